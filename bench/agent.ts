import type { Server } from 'node:http';
import { REFRESH_AHEAD_FRACTION } from '../src/core/agent/value-cache.js';
import { randomToken } from '../src/core/crypto/random-token.js';
import type { Daemon } from '../src/daemon/daemon.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { startSecretsManagerPeer } from '../test/peers/secretsmanager-peer.js';
import { STS_PEER_BASE_KEY } from '../test/peers/sts-peer.js';
import { agentDaemon, agentFloor, bareServer, SECRET, SECRET_PATH, TOKEN_HEADER } from './_agent-servers.js';
import { floorLine } from './_front-floor.js';
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
    const path = SECRET_PATH;
    const headers = { [TOKEN_HEADER]: token };
    const sample = await (await fetch(`${cached.url}${path}`, { headers })).text();
    const baseline = await bareServer(sample);
    bare = baseline.server;
    const least = await agentFloor(sample, token);
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
