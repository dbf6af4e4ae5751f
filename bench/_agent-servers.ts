/**
 * The servers of bench/agent.ts: the agent front in a real daemon against the Secrets Manager peer,
 * a bare node:http server answering the same body, and the floor of the required work
 * (bench/_front-floor.ts). Run as a child (`node _agent-servers.js bare|floor|sidekey`, for
 * bench/instructions.ts), it starts the peer and a daemon, then the one server asked for, and
 * prints `{url, headers}` once it serves.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../src/core/config/load-config.js';
import { randomToken } from '../src/core/crypto/random-token.js';
import { bufferedDestination, createLogger } from '../src/core/log/logger.js';
import { Daemon } from '../src/daemon/daemon.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { SM_REGION, startSecretsManagerPeer } from '../test/peers/secretsmanager-peer.js';
import { baseKeyDefaults, STS_PEER_BASE_KEY } from '../test/peers/sts-peer.js';
import { startFrontFloor } from './_front-floor.js';

/** The secret every benchmark request reads, and the request that reads it. */
export const SECRET = 'prod/web/db';
export const SECRET_PATH = `/secretsmanager/get?secretId=${encodeURIComponent(SECRET)}`;
export const TOKEN_HEADER = 'x-aws-parameters-secrets-token';

export async function bareServer(body: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The floor, binding and adding what the agent front binds and adds to each read's line. */
export function agentFloor(body: string, token: string): Promise<{ url: string; server: Server }> {
  return startFrontFloor({
    body: () => body,
    token,
    presented: (req) => req.headers[TOKEN_HEADER] as string | undefined,
    event: 'agent.fetch',
    bound: { actor: 'bench' },
    fields: () => ({ secret_id: SECRET, outcome: 'ok' }),
  });
}

/** A daemon whose agent front reads Secrets Manager at AWS_ENDPOINT_URL_SECRETS_MANAGER. */
export async function agentDaemon(dir: string, label: string, ttlSeconds: number, token: string): Promise<{ daemon: Daemon; url: string }> {
  const file = join(dir, `sidekey-${label}.yaml`);
  writeFileSync(
    file,
    JSON.stringify({
      admin: { listen: '127.0.0.1:0' },
      logging: { level: 'info' },
      aws_defaults: baseKeyDefaults(SM_REGION),
      agent: { listen: '127.0.0.1:0', ttl_seconds: ttlSeconds, tokens: [{ id: 'bench', token, names: ['prod/*'] }] },
    }),
  );
  // The project's logger and production destination, to /dev/null: audit lines cost what they cost.
  const daemon = new Daemon({
    loaded: loadConfig(file),
    logger: createLogger({ level: 'info', destination: bufferedDestination('/dev/null') }),
  });
  await daemon.start();
  const address = daemon.fronts.find((f) => f.name === 'agent')?.addresses?.()[0];
  if (address?.kind !== 'tcp') throw new Error('the agent front did not start');
  return { daemon, url: `http://127.0.0.1:${address.port}` };
}

async function child(mode: string | undefined): Promise<void> {
  if (mode !== 'bare' && mode !== 'floor' && mode !== 'sidekey') throw new Error('usage: _agent-servers.js bare|floor|sidekey');
  const token = randomToken();
  const peer = await startSecretsManagerPeer([STS_PEER_BASE_KEY]);
  peer.put(SECRET, 'correct-horse-battery-staple');
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = peer.url;
  const agent = await agentDaemon(tempDir('sidekey-bench-agent-').path, mode, 300, token);
  const headers = { [TOKEN_HEADER]: token };
  const body = await (await fetch(`${agent.url}${SECRET_PATH}`, { headers })).text();
  const url = mode === 'sidekey' ? agent.url : mode === 'bare' ? (await bareServer(body)).url : (await agentFloor(body, token)).url;
  process.stdout.write(`${JSON.stringify({ url: `${url}${SECRET_PATH}`, headers })}\n`);
  // Exit normally on SIGTERM so `node --cpu-prof` can write its profile.
  process.once('SIGTERM', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await child(process.argv[2]);
