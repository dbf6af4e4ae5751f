/**
 * Child process for bench/credential-endpoint.ts and bench/instructions.ts. `bare` serves a fixed
 * credentials JSON with plain node:http (the baseline); `floor` serves it with only the work every
 * request requires (token check, audit line, metrics: bench/_front-floor.ts); `sidekey` runs the
 * real daemon (every front its config has, audit line per request to /dev/null) against an STS
 * peer in this process. Prints one JSON line `{url, token}` once warm, then serves until killed.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { formatListenAddress } from '../src/core/config/listen-address.js';
import { loadConfig } from '../src/core/config/load-config.js';
import { randomToken } from '../src/core/crypto/random-token.js';
import { bufferedDestination, createLogger } from '../src/core/log/logger.js';
import { AUDIT_EVENT } from '../src/credential-endpoint/credential-request-handler.js';
import { Daemon } from '../src/daemon/daemon.js';
import { daemonConfig, ROLE_WEB } from '../test/credential-endpoint/fixtures.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { startStsPeer } from '../test/peers/sts-peer.js';
import { startFrontFloor } from './_front-floor.js';

/** What the baseline answers: the same shape and size as a real credentials response. */
export const BARE_BODY = JSON.stringify({
  AccessKeyId: 'ASIA0123456789ABCDEF',
  SecretAccessKey: 'x'.repeat(40),
  Token: 'y'.repeat(176),
  Expiration: '2030-01-01T00:00:00Z',
  AccountId: '123456789012',
  RoleArn: ROLE_WEB,
});

async function bare(): Promise<{ url: string; token: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BARE_BODY), 'cache-control': 'no-store' });
    res.end(BARE_BODY);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/credentials`, token: 'unused' };
}

/** The floor, binding what the endpoint binds to each set of credentials and adding what it adds per request. */
async function floor(): Promise<{ url: string; token: string }> {
  const token = randomToken();
  const { url } = await startFrontFloor({
    body: () => BARE_BODY,
    contentType: 'application/json',
    token,
    presented: (req) => req.headers.authorization,
    event: AUDIT_EVENT,
    bound: { service: 'web', roleArn: ROLE_WEB, sessionName: 'sidekey-web', expiration: '2030-01-01T00:00:00Z' },
    fields: (req) => ({ caller: req.socket.remoteAddress, outcome: 'ok', status: 200 }),
  });
  return { url: `${url}/v1/credentials`, token };
}

async function sidekey(): Promise<{ url: string; token: string }> {
  const peer = await startStsPeer();
  const token = randomToken();
  const dir = tempDir('sidekey-bench-');
  const file = join(dir.path, 'sidekey.yaml');
  // The default rate limit (200 a second): held credentials are served above it, so the load
  // measures the cached path at the limit users run with.
  writeFileSync(file, daemonConfig(peer.url, { web: { role: ROLE_WEB, token } }));
  const logger = createLogger({ destination: bufferedDestination('/dev/null') });
  const daemon = new Daemon({ loaded: loadConfig(file), logger });
  await daemon.start();
  while (!daemon.ready()) await new Promise((resolve) => setTimeout(resolve, 10));
  const address = daemon.fronts.find((f) => f.name === 'credential-endpoint')?.addresses?.()[0];
  if (!address) throw new Error('no credential endpoint');
  return { url: `http://${formatListenAddress(address)}/v1/credentials`, token };
}

const mode = process.argv[2];
const started = mode === 'bare' ? await bare() : mode === 'floor' ? await floor() : mode === 'sidekey' ? await sidekey() : undefined;
if (!started) throw new Error('usage: _credential-endpoint-server.js bare|floor|sidekey');
process.stdout.write(`${JSON.stringify(started)}\n`);
// Exit normally on SIGTERM so `node --cpu-prof` can write its profile.
process.once('SIGTERM', () => process.exit(0));
