/**
 * The servers of bench/secrets.ts's fetch runs: the secrets front in a real daemon, a bare
 * node:http server answering the same JSON, and the floor of the required work
 * (bench/_front-floor.ts). Run as a child (`node _secrets-servers.js bare|floor|sidekey`, for
 * bench/instructions.ts), it starts a daemon on SQLite with a cached secret, then the one server
 * asked for, and prints `{url, headers}` once it serves.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/core/config/load-config.js';
import { randomToken } from '../src/core/crypto/random-token.js';
import { bufferedDestination, createLogger, type Logger } from '../src/core/log/logger.js';
import { Daemon } from '../src/daemon/daemon.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { startFrontFloor } from './_front-floor.js';

/** The secret every fetch run reads. */
export const SECRET_NAME = 'dbpassword';
export const SECRET_PATH = `/latest/secrets/${SECRET_NAME}`;

export async function bareServer(body: unknown): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    const text = JSON.stringify(body);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/**
 * The project's logger (with its redaction) and its production destination (buffered, as
 * `sidekey serve` writes stdout), writing to /dev/null: audit lines cost what they cost.
 */
export function projectLogger(): Logger {
  return createLogger({ level: 'info', destination: bufferedDestination('/dev/null') });
}

/** `store:` lines for a daemon's config. */
export const sqliteStore = (label: string) => `  store: { type: sqlite, path: ./data-${label}/secrets.db }\n`;
export const dynamoStore = (label: string) => `  store: { type: dynamodb, table: bench-${label}, region: us-east-1 }\n`;

export async function startSecretsDaemon(
  dir: string,
  label: string,
  cacheTtl: number,
  tokens: { admin: string; reader: string },
  logger: Logger,
  store = sqliteStore(label),
): Promise<{ daemon: Daemon; url: string }> {
  const file = join(dir, `sidekey-${label}.yaml`);
  writeFileSync(join(dir, 'admin.token'), tokens.admin, { mode: 0o600 });
  writeFileSync(join(dir, 'reader.token'), tokens.reader, { mode: 0o600 });
  writeFileSync(
    file,
    `admin: { listen: 127.0.0.1:0 }\nlogging: { level: info }\nsecrets:\n  listen: 127.0.0.1:0\n  cache_ttl_seconds: ${cacheTtl}\n` +
      store +
      `  keyring: { type: local, key_file: ./data-${label}/master.key }\n  tokens:\n` +
      `    - { id: bench-admin, token: "\${fromFile:admin.token}", role: admin, application: bench }\n` +
      `    - { id: bench-reader, token: "\${fromFile:reader.token}", role: reader, application: bench }\n`,
  );
  const daemon = new Daemon({ loaded: loadConfig(file), logger });
  await daemon.start();
  const address = daemon.fronts.find((f) => f.name === 'secrets')?.addresses?.()[0];
  if (address?.kind !== 'tcp') throw new Error('the secrets front did not start');
  return { daemon, url: `http://127.0.0.1:${address.port}` };
}

/** The floor, binding and adding what the secrets service binds and adds to each fetch's line. */
export function secretsFloor(sample: unknown, readerToken: string): Promise<{ url: string; server: Server }> {
  return startFrontFloor({
    body: () => JSON.stringify(sample),
    contentType: 'application/json',
    token: readerToken,
    presented: (req) => req.headers.authorization?.replace(/^Bearer /, ''),
    event: 'secrets.fetch',
    bound: { actor: 'bench-reader', app: 'bench' },
    fields: () => ({ name: SECRET_NAME, serial: 1, outcome: 'ok' }),
  });
}

/** Creates the benchmark's secret through the API, as the admin token. */
export async function createSecret(url: string, adminToken: string): Promise<void> {
  const res = await fetch(`${url}${SECRET_PATH}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ payload: 'correct-horse-battery-staple' }),
  });
  if (!res.ok) throw new Error(`create failed: ${res.status} ${await res.text()}`);
}

async function child(mode: string | undefined): Promise<void> {
  if (mode !== 'bare' && mode !== 'floor' && mode !== 'sidekey') throw new Error('usage: _secrets-servers.js bare|floor|sidekey');
  const tokens = { admin: randomToken(), reader: randomToken() };
  const secrets = await startSecretsDaemon(tempDir('sidekey-bench-secrets-').path, mode, 30, tokens, projectLogger());
  await createSecret(secrets.url, tokens.admin);
  const headers = { authorization: `Bearer ${tokens.reader}` };
  const sample = await (await fetch(`${secrets.url}${SECRET_PATH}`, { headers })).json();
  const url =
    mode === 'sidekey' ? secrets.url : mode === 'bare' ? (await bareServer(sample)).url : (await secretsFloor(sample, tokens.reader)).url;
  process.stdout.write(`${JSON.stringify({ url: `${url}${SECRET_PATH}`, headers })}\n`);
  // Exit normally on SIGTERM so `node --cpu-prof` can write its profile.
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await child(process.argv[2]);
