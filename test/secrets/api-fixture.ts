/**
 * A real daemon with a secrets front on SQLite and a local key, four tokens (admin, reader, a
 * reader limited to db-*, an admin of another application), and a record of every payload and
 * token used, so each test file can assert that no log line contains one.
 */
import { after, before } from 'node:test';
import { randomToken } from '../../src/core/crypto/random-token.js';
import { type RunningDaemon, startDaemon } from '../helpers/daemon-harness.js';
import { assertNoSecrets } from '../helpers/log-capture.js';

export interface ApiFixture {
  readonly daemon: RunningDaemon;
  readonly base: string;
  readonly tokens: { readonly admin: string; readonly reader: string; readonly web: string; readonly otherApp: string };
  /** A fresh payload, remembered for the log check. */
  secret(label: string): string;
  /** Remembers a value seen in an answer (a generated payload) for the log check. */
  remember(value: string): void;
  /** Checks the logs, then stops the daemon. */
  stop(): Promise<void>;
}

export const API_CONFIG = `
admin:
  listen: 127.0.0.1:0
secrets:
  listen: 127.0.0.1:0
  store: { type: sqlite, path: ./data/secrets.db }
  keyring: { type: local, key_file: ./data/master.key }
  cache_ttl_seconds: 30
  tokens:
    - { id: deployer, token: "\${fromFile:admin.token}", role: admin, application: cryptex }
    - { id: reader-all, token: "\${fromFile:reader.token}", role: reader, application: cryptex }
    - { id: web, token: "\${fromFile:web.token}", role: reader, application: cryptex, names: ["db-*"] }
    - { id: other-admin, token: "\${fromFile:other.token}", role: admin, application: other-app }
`;

export function newApiTokens(): ApiFixture['tokens'] {
  return { admin: randomToken(), reader: randomToken(), web: randomToken(), otherApp: randomToken() };
}

export async function startApi(tokens: ApiFixture['tokens'] = newApiTokens()): Promise<ApiFixture> {
  const daemon = await startDaemon(API_CONFIG, {
    files: { 'admin.token': tokens.admin, 'reader.token': tokens.reader, 'web.token': tokens.web, 'other.token': tokens.otherApp },
  });
  const seen: string[] = [];
  return {
    daemon,
    base: daemon.url('secrets'),
    tokens,
    secret(label) {
      const value = `${label}-${randomToken(12)}`;
      seen.push(value);
      return value;
    },
    remember: (value) => {
      seen.push(value);
    },
    async stop() {
      try {
        assertNoSecrets(daemon.lines, [...Object.values(tokens), ...seen]);
      } finally {
        await daemon.stop();
      }
    },
  };
}

/**
 * The API for a whole test file: tokens made now (case tables refer to them while tests are
 * declared), the daemon started before the first test (then `seed` runs) and stopped after the last.
 */
export function apiForFile(seed?: (api: ApiFixture) => Promise<void>): {
  readonly tokens: ApiFixture['tokens'];
  api(): ApiFixture;
} {
  const tokens = newApiTokens();
  let running: ApiFixture | undefined;
  before(async () => {
    running = await startApi(tokens);
    await seed?.(running);
  });
  after(() => running?.stop());
  return {
    tokens,
    api: () => {
      if (!running) throw new Error('the secrets API fixture is used before its before() hook ran');
      return running;
    },
  };
}
