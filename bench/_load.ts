/**
 * The load generator shared by the HTTP benchmarks, and the server CPU accounting.
 *
 * wrk (Debian's package: `apt-get install -y wrk`) is preferred: it is written in C and costs a
 * few microseconds of CPU per request, where autocannon (Node) costs about as much as the server
 * it measures. On a 2-core machine the load generator, the server and the kernel share the CPU,
 * so an expensive client caps both sides and compresses their ratio; wrk lets the server under
 * test be the bottleneck. When wrk is missing, the autocannon CLI runs in a child process instead
 * (the bench says which). Baseline and sidekey are always driven by the same client in one run.
 *
 * Server CPU per request is read from /proc (utime + stime of the server's processes over the
 * measured run): unlike throughput it barely moves when other work shares the machine.
 *
 * `BENCH_PIN=1` (with two or more CPUs and taskset, from util-linux) pins the server's processes
 * (every thread) to CPU 0 and wrk to CPU 1 for each run: the two sides never take turns on one core,
 * so ratios barely move from run to run, and the throughput ratio becomes the CPU-efficiency ratio
 * (the server cannot borrow the client's core). Off by default: the targets were set unpinned.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';

export const WRK = process.env.BENCH_WRK ?? '/usr/bin/wrk';
/** wrk threads; 1 leaves the second core to the server and the kernel. */
const WRK_THREADS = Number(process.env.BENCH_WRK_THREADS ?? 1);
const useWrk = existsSync(WRK) && process.env.BENCH_CLIENT !== 'autocannon';
const TASKSET = '/usr/bin/taskset';
/** Whether runs pin the server and the client to a core each. */
const pinned = useWrk && process.env.BENCH_PIN === '1' && existsSync(TASKSET) && availableParallelism() >= 2;
/** The CPUs the server under test and the load generator run on when pinned. */
const SERVER_CPU = '0';
const CLIENT_CPU = '1';
export const CLIENT = useWrk
  ? `wrk (${WRK}, ${WRK_THREADS} thread)${pinned ? `; server pinned to CPU ${SERVER_CPU}, wrk to CPU ${CLIENT_CPU}` : ''}`
  : 'autocannon CLI (child process; install wrk for a cheaper client)';

export interface LoadResult {
  readonly rps: number;
  readonly requests: number;
  /** Latency percentiles in milliseconds. */
  readonly p50: number;
  readonly p99: number;
  /** Answers with a status >= 400 (wrk) or outside 2xx (autocannon), and socket errors. */
  readonly non2xx: number;
  readonly errors: number;
  /** CPU time of the watched processes per answered request, in microseconds. */
  readonly cpuMicros: number;
}

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly seconds: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Processes whose CPU time is charged to the run (the server; nginx: master and workers). */
  readonly pids: readonly number[];
}

const DONE_SCRIPT = `done = function(s, latency, requests)
  io.write(string.format('{"requests":%d,"duration":%d,"p50":%d,"p99":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\\n',
    s.requests, s.duration, latency:percentile(50), latency:percentile(99),
    s.errors.connect, s.errors.read, s.errors.write, s.errors.status, s.errors.timeout))
end
`;
let scriptPath: string | undefined;

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** A process and its direct children (nginx's workers), as listed by /proc. */
export function withChildren(pid: number): number[] {
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return [pid, ...(children ? children.split(/\s+/).map(Number) : [])];
  } catch {
    return [pid];
  }
}

/** utime + stime of the processes, in microseconds. */
function cpuMicros(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields after "(comm)": state is index 0, utime is 11, stime is 12.
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks / clockTicks()) * 1e6;
}

function runChild(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err.slice(-500)}`))));
  });
}

async function wrk(options: LoadOptions): Promise<Omit<LoadResult, 'cpuMicros'>> {
  if (!scriptPath) {
    scriptPath = join(tmpdir(), `sidekey-bench-wrk-${process.pid}.lua`);
    writeFileSync(scriptPath, DONE_SCRIPT);
  }
  const args = ['-t', String(WRK_THREADS), '-c', String(options.connections), '-d', `${options.seconds}s`, '-s', scriptPath];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (pinned) for (const pid of options.pids) execFileSync(TASKSET, ['-a', '-c', '-p', SERVER_CPU, String(pid)], { stdio: 'ignore' });
  const out = pinned ? await runChild(TASKSET, ['-c', CLIENT_CPU, WRK, ...args, options.url]) : await runChild(WRK, [...args, options.url]);
  const json = out.split('\n').find((line) => line.startsWith('{"requests"'));
  if (!json) throw new Error(`wrk printed no summary: ${out.slice(-500)}`);
  const r = JSON.parse(json) as Record<string, number>;
  const n = (key: string) => r[key] ?? 0;
  return {
    rps: n('requests') / (n('duration') / 1e6),
    requests: n('requests'),
    p50: n('p50') / 1000,
    p99: n('p99') / 1000,
    non2xx: n('status'),
    errors: n('connect') + n('read') + n('write') + n('timeout'),
  };
}

async function autocannon(options: LoadOptions): Promise<Omit<LoadResult, 'cpuMicros'>> {
  const cli = createRequire(import.meta.url).resolve('autocannon/autocannon.js');
  const args = [cli, '-c', String(options.connections), '-d', String(options.seconds), '-j'];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  const r = JSON.parse(await runChild(process.execPath, [...args, options.url])) as {
    requests: { average: number; total: number };
    latency: { p50: number; p99: number };
    non2xx: number;
    errors: number;
  };
  return {
    rps: r.requests.average,
    requests: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

/** One measured run: the client in its own process, the watched processes' CPU over the run. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const before = cpuMicros(options.pids);
  const result = await (useWrk ? wrk(options) : autocannon(options));
  const used = cpuMicros(options.pids) - before;
  return { ...result, cpuMicros: used / Math.max(1, result.requests) };
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

/** A target's runs over the rounds of `interleaved`. */
export interface RoundsResult extends LoadResult {
  /** Each round's throughput, in round order: a round runs every target once. */
  readonly roundRps: readonly number[];
}

/**
 * Runs each target `rounds` times after a short warm-up of each, every round running every
 * target once, in turn forwards and backwards (a, b, b, a, ...), so that neither side always runs
 * first or last. For each target it keeps the run with its median throughput; CPU per request is
 * the median over the rounds. Compare two targets with `pairedRatio`, not their medians.
 */
export async function interleaved(
  targets: readonly Omit<LoadOptions, 'seconds'>[],
  seconds: number,
  rounds: number,
  warmupSeconds = 1,
): Promise<RoundsResult[]> {
  for (const target of targets) await load({ ...target, seconds: warmupSeconds });
  const runs: LoadResult[][] = targets.map(() => []);
  const order = [...targets.keys()];
  for (let round = 0; round < rounds; round++) {
    for (const i of round % 2 === 0 ? order : [...order].reverse()) {
      (runs[i] as LoadResult[]).push(await load({ ...(targets[i] as Omit<LoadOptions, 'seconds'>), seconds }));
    }
  }
  return runs.map((list) => {
    const rps = median(list.map((r) => r.rps));
    const chosen = list.find((r) => r.rps === rps) as LoadResult;
    return { ...chosen, cpuMicros: median(list.map((r) => r.cpuMicros)), roundRps: list.map((r) => r.rps) };
  });
}

/**
 * `ours` against `base` in throughput: the median of the rounds' ratios. Both ran in each round
 * within seconds of each other, so a load on the machine that comes and goes over minutes moves
 * both sides of a round's ratio, where a ratio of the two medians can pair a quiet run of one side
 * with a busy run of the other.
 */
export function pairedRatio(ours: RoundsResult, base: RoundsResult): number {
  return middle(ours.roundRps.map((rps, round) => rps / (base.roundRps[round] as number)));
}

/** Each round's ratio of `ours` to `base`, in round order, for a line that shows the spread. */
export function roundRatios(ours: RoundsResult, base: RoundsResult): string {
  return ours.roundRps.map((rps, round) => (rps / (base.roundRps[round] as number)).toFixed(2)).join(' ');
}

/** The median, as the mean of the two middle values when there is an even number of them. */
export function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[half] as number) : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2;
}

/** One result line: throughput, latency, server CPU per request. */
export function formatResult(label: string, r: LoadResult, width = 30): string {
  const failures = r.non2xx + r.errors > 0 ? `  (${r.non2xx} status >= 400, ${r.errors} socket errors)` : '';
  return `${label.padEnd(width)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  server CPU ${r.cpuMicros.toFixed(1).padStart(5)} us/req${failures}`;
}

/** How long a benchmark's server child may take to print its first line, in milliseconds. */
export const CHILD_START_TIMEOUT_MS = 15_000;

/**
 * Starts `node ARGS` and resolves with the child and the first line it prints on stdout (the
 * children print their URL, or a JSON line, once they serve). Later output is drained.
 */
export function startNodeChild(
  args: readonly string[],
  what: string,
  /** A command that runs node, with its arguments (valgrind's, say); node itself by default. */
  launcher: readonly string[] = [],
  timeoutMs = CHILD_START_TIMEOUT_MS,
): Promise<{ child: ChildProcess; firstLine: string }> {
  return new Promise((resolve, reject) => {
    const [command, ...prefix] = [...launcher, process.execPath];
    const child = spawn(command as string, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${timeoutMs} ms`)), timeoutMs);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      resolve({ child, firstLine: out.slice(0, newline).trim() });
    });
    child.once('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
}
