/**
 * Agent API benchmark, each figure against a baseline measured in the same run:
 *
 * 1. a cached `GET /secretsmanager/get?secretId=...` through the real agent front (token check,
 *    name patterns, cache, audit line) versus a bare node:http server answering the same body,
 *    64 keep-alive connections: throughput, p50, p99, server CPU per request, and the ratio
 *    (target >= 0.8), with the floor of what each request requires (bench/_front-floor.ts: token
 *    check, audit line, metrics, nothing else) beside them, to show where the gap goes;
 * 2. calls to Secrets Manager for 10,000 fetches by 200 concurrent callers over several TTLs (a
 *    short one, so the run spans refreshes), against the 10,000 calls of a reader with no cache.
 *    Goal: one call per refresh interval (refresh-ahead starts at 75-90% of the TTL, so at most
 *    one per 0.75 TTL, plus the first).
 *
 * The Secrets Manager peer (test/peers) verifies SigV4 as the service does; it is idle during the
 * cached runs. `BENCH_SECONDS` sets each run's length (default 3 s), `BENCH_ROUNDS` the rounds
 * (default 3). Not part of `npm test`.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { REFRESH_AHEAD_FRACTION } from '../src/core/agent/value-cache.js';
import { loadConfig } from '../src/core/config/load-config.js';
import { randomToken } from '../src/core/crypto/random-token.js';
import { bufferedDestination, createLogger } from '../src/core/log/logger.js';
import { Daemon } from '../src/daemon/daemon.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { SM_REGION, startSecretsManagerPeer } from '../test/peers/secretsmanager-peer.js';
import { baseKeyDefaults, STS_PEER_BASE_KEY } from '../test/peers/sts-peer.js';
import { floorLine, startFrontFloor } from './_front-floor.js';
import { CLIENT, formatResult, interleaved, pairedRatio, type RoundsResult, roundRatios } from './_load.js';

const CONNECTIONS = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CACHED_RATIO_TARGET = 0.8;
/** The fleet run: this many callers share this many fetches. */
const FLEET_CALLERS = 200;
const FLEET_FETCHES = 10_000;
/** The fleet run's TTL, short so that the run spans several refreshes. */
const FLEET_TTL_SECONDS = 1;
/** The fleet run lasts at least this long, so it spans refreshes however fast the fetches are. */
const FLEET_MIN_SECONDS = 4;
const SECRET = 'prod/web/db';

async function bareServer(body: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function agentDaemon(dir: string, label: string, ttlSeconds: number, token: string): Promise<{ daemon: Daemon; url: string }> {
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

export async function run(): Promise<void> {
  const dir = tempDir('sidekey-bench-agent-');
  const token = randomToken();
  const peer = await startSecretsManagerPeer([STS_PEER_BASE_KEY]);
  peer.put(SECRET, 'correct-horse-battery-staple');
  const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
  process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = peer.url;
  const daemons: Daemon[] = [];
  let bare: Server | undefined;
  let floor: Server | undefined;
  try {
    const cached = await agentDaemon(dir.path, 'cached', 300, token);
    const fleet = await agentDaemon(dir.path, 'fleet', FLEET_TTL_SECONDS, token);
    daemons.push(cached.daemon, fleet.daemon);
    const path = `/secretsmanager/get?secretId=${encodeURIComponent(SECRET)}`;
    const headers = { 'x-aws-parameters-secrets-token': token };
    const sample = await (await fetch(`${cached.url}${path}`, { headers })).text();
    const baseline = await bareServer(sample);
    bare = baseline.server;
    // Binds and adds what the agent front binds and adds to each read's line.
    const least = await startFrontFloor({
      body: () => sample,
      token,
      presented: (req) => req.headers['x-aws-parameters-secrets-token'] as string | undefined,
      event: 'agent.fetch',
      bound: { actor: 'bench' },
      fields: () => ({ secret_id: SECRET, outcome: 'ok' }),
    });
    floor = least.server;

    console.log(
      `agent bench: ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} interleaved rounds (ratios: the median of the rounds'), node ${process.version}\nclient: ${CLIENT}`,
    );
    const target = (url: string) => ({ url: `${url}${path}`, connections: CONNECTIONS, headers, pids: [process.pid] });
    const [base, leastRun, ours] = (await interleaved([target(baseline.url), target(least.url), target(cached.url)], SECONDS, ROUNDS)) as [
      RoundsResult,
      RoundsResult,
      RoundsResult,
    ];
    console.log(formatResult('bare node:http (same body)', base, 34));
    console.log(formatResult('floor (requirements only)', leastRun, 34));
    console.log(formatResult('cached fetch (agent front)', ours, 34));
    const ratio = pairedRatio(ours, base);
    console.log(
      `cached / bare throughput ratio: ${ratio.toFixed(2)} (target >= ${CACHED_RATIO_TARGET}) ${ratio >= CACHED_RATIO_TARGET ? 'PASS' : 'MISS'}; rounds: ${roundRatios(ours, base)}`,
    );
    console.log(`cached / bare CPU-efficiency ratio (bare us per request / ours): ${(base.cpuMicros / ours.cpuMicros).toFixed(2)}`);
    process.stdout.write(floorLine(base, leastRun, ours));

    const before = peer.calls.length;
    const started = Date.now();
    let issued = 0;
    let failed = 0;
    const perCaller = FLEET_FETCHES / FLEET_CALLERS;
    const pause = (FLEET_MIN_SECONDS * 1000) / perCaller;
    await Promise.all(
      Array.from({ length: FLEET_CALLERS }, async () => {
        for (let i = 0; i < perCaller; i++) {
          issued++;
          const res = await fetch(`${fleet.url}${path}`, { headers });
          await res.arrayBuffer();
          if (!res.ok) failed++;
          await new Promise((resolve) => setTimeout(resolve, pause));
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const calls = peer.calls.length - before;
    const allowed = 1 + Math.floor(seconds / (FLEET_TTL_SECONDS * REFRESH_AHEAD_FRACTION));
    console.log(
      `fleet: ${issued} fetches by ${FLEET_CALLERS} callers over ${seconds.toFixed(1)} s (TTL ${FLEET_TTL_SECONDS} s): ` +
        `${calls} GetSecretValue calls, against ${issued} with no cache (${(issued / Math.max(1, calls)).toFixed(0)}x fewer)` +
        `${failed > 0 ? `, ${failed} failed` : ''}`,
    );
    console.log(
      `calls per refresh interval: at most ${allowed} allowed for one per interval, ${calls} made ${calls <= allowed && failed === 0 ? 'PASS' : 'MISS'}`,
    );
  } finally {
    for (const d of daemons) await d.stop(100);
    bare?.close();
    floor?.close();
    await peer.close();
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    dir.remove();
  }
}
