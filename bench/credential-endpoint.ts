/**
 * Credential endpoint benchmark: cached `GET /v1/credentials` on the real daemon
 * against a bare node:http server answering the same JSON, side by side in one run, 64 keep-alive
 * connections, with the floor of what each request requires (bench/_front-floor.ts: token check,
 * audit line, metrics, nothing else) between them. Each server is its own process; the load generator (wrk, or the autocannon CLI when
 * wrk is missing: see bench/_load.ts) is a third one, the same for both sides. Runs alternate
 * between the two servers `BENCH_ROUNDS` times (default 3) and the medians are reported:
 * req/s, p50, p99, server CPU per request, the throughput ratio and the CPU-efficiency ratio, and
 * where the gap goes: the floor against bare (the requirements' price) and sidekey against the floor.
 * Target: at least 0.8x the bare server's throughput, p99 under 5 ms. `BENCH_SECONDS` sets each
 * run's length (default 5 s). sidekey runs with the default rate limit (200 requests a second per
 * service): held credentials are served above it, so the load, far above the limit, shows that no
 * caller is refused. Not part of `npm test`.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { floorLine } from './_front-floor.js';
import { CLIENT, formatResult, interleaved, pairedRatio, type RoundsResult, roundRatios, startNodeChild } from './_load.js';

/** Connections per run: a busy node's worth of SDK clients. */
const CONNECTIONS = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** The targets this benchmark checks. */
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 5;

const SERVER = fileURLToPath(new URL('./_credential-endpoint-server.js', import.meta.url));

interface Started {
  child: ChildProcess;
  url: string;
  token: string;
}

async function startServer(mode: 'bare' | 'floor' | 'sidekey'): Promise<Started> {
  const { child, firstLine } = await startNodeChild([SERVER, mode], `${mode} server`);
  const { url, token } = JSON.parse(firstLine) as { url: string; token: string };
  return { child, url, token };
}

export async function run(): Promise<void> {
  const servers: Started[] = [];
  try {
    const bare = await startServer('bare');
    servers.push(bare);
    const floor = await startServer('floor');
    servers.push(floor);
    const ours = await startServer('sidekey');
    servers.push(ours);
    process.stdout.write(
      `cached GET /v1/credentials, ${CONNECTIONS} keep-alive connections, ${SECONDS} s per run, ${ROUNDS} interleaved rounds (ratios: the median of the rounds'); sidekey at its default rate limit (200/s), served above it\n` +
        `client: ${CLIENT}; node ${process.version}\n`,
    );
    const target = (s: Started) => ({
      url: s.url,
      connections: CONNECTIONS,
      headers: { authorization: s.token },
      pids: [s.child.pid as number],
    });
    const [baseline, least, result] = (await interleaved([target(bare), target(floor), target(ours)], SECONDS, ROUNDS)) as [
      RoundsResult,
      RoundsResult,
      RoundsResult,
    ];
    for (const [name, r] of [
      ['bare', baseline],
      ['floor', least],
      ['sidekey', result],
    ] as const) {
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`${name}: ${r.non2xx} answers >= 400, ${r.errors} socket errors`);
    }
    process.stdout.write(`${formatResult('bare node:http', baseline, 22)}\n`);
    process.stdout.write(`${formatResult('floor (requirements)', least, 22)}\n`);
    process.stdout.write(`${formatResult('sidekey endpoint', result, 22)}\n`);
    const ratio = pairedRatio(result, baseline);
    const cpuRatio = baseline.cpuMicros / result.cpuMicros;
    const verdict = ratio >= TARGET_RATIO && result.p99 < TARGET_P99_MS ? 'meets' : 'MISSES';
    process.stdout.write(
      `ratio ${ratio.toFixed(2)}x of bare, p99 ${result.p99.toFixed(2)} ms (target >= ${TARGET_RATIO}x, p99 < ${TARGET_P99_MS} ms): ${verdict} the target; rounds: ${roundRatios(result, baseline)}\n` +
        `CPU-efficiency ratio (bare us/req / sidekey us/req): ${cpuRatio.toFixed(2)}x\n` +
        floorLine(baseline, least, result),
    );
  } finally {
    for (const s of servers) {
      s.child.removeAllListeners('exit');
      s.child.kill('SIGKILL');
    }
  }
}
