/**
 * Credential endpoint benchmark (issue 2): cached `GET /v1/credentials` on the real daemon
 * against a bare node:http server answering the same JSON, side by side in one run, 64 keep-alive
 * connections (autocannon). Prints req/s, p50, p99 and the ratio. Target: at least 0.8x the bare
 * server's throughput, p99 under 5 ms. Each server is its own process; `BENCH_SECONDS` sets each
 * run's length (default 5 s). Not part of `npm test`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Connections per run, as issue 2 asks. */
const CONNECTIONS = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Warm-up before each measured run, in seconds (JIT, connection set-up). */
const WARMUP_SECONDS = 1;
/** How long a server child may take to be ready, in milliseconds. */
const START_TIMEOUT_MS = 15_000;
/** Targets from issue 2. */
const TARGET_RATIO = 0.8;
const TARGET_P99_MS = 5;

interface Result {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (options: { url: string; connections: number; duration: number; headers?: Record<string, string> }) => Promise<Result>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
const SERVER = fileURLToPath(new URL('./_credential-endpoint-server.js', import.meta.url));

function startServer(mode: 'bare' | 'sidekey'): Promise<{ child: ChildProcess; url: string; token: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SERVER, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(`${mode} server did not start in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      const { url, token } = JSON.parse(out.slice(0, newline)) as { url: string; token: string };
      resolve({ child, url, token });
    });
    child.once('exit', (code) => reject(new Error(`${mode} server exited with ${code}`)));
  });
}

async function measure(mode: 'bare' | 'sidekey'): Promise<Result> {
  const { child, url, token } = await startServer(mode);
  try {
    const headers = { authorization: token };
    await autocannon({ url, connections: CONNECTIONS, duration: WARMUP_SECONDS, headers });
    const result = await autocannon({ url, connections: CONNECTIONS, duration: SECONDS, headers });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${mode}: ${result.non2xx} non-2xx answers, ${result.errors} errors`);
    return result;
  } finally {
    child.removeAllListeners('exit');
    child.kill('SIGKILL');
  }
}

const row = (name: string, r: Result) =>
  `${name.padEnd(22)} ${r.requests.average.toFixed(0).padStart(8)} req/s   p50 ${r.latency.p50.toFixed(2).padStart(6)} ms   p99 ${r.latency.p99.toFixed(2).padStart(6)} ms`;

export async function run(): Promise<void> {
  process.stdout.write(`cached GET /v1/credentials, ${CONNECTIONS} keep-alive connections, ${SECONDS} s each\n`);
  const baseline = await measure('bare');
  process.stdout.write(`${row('bare node:http', baseline)}\n`);
  const ours = await measure('sidekey');
  process.stdout.write(`${row('sidekey endpoint', ours)}\n`);
  const ratio = ours.requests.average / baseline.requests.average;
  const verdict = ratio >= TARGET_RATIO && ours.latency.p99 < TARGET_P99_MS ? 'meets' : 'MISSES';
  process.stdout.write(
    `ratio ${ratio.toFixed(2)}x of bare (target >= ${TARGET_RATIO}x, p99 < ${TARGET_P99_MS} ms): ${verdict} the target\n`,
  );
}
