/**
 * Instructions per request, counted: the cached credential endpoint, the agent API's cached fetch
 * and the secrets API's, each against bare node:http and the floor of the required work (bench/_front-floor.ts),
 * each server run under valgrind's callgrind with its cache model, one after the other.
 *
 * Why: on a shared VM, the throughput and CPU time of identical runs move by a third from one
 * minute to the next, which hides a few microseconds of a front's own code. The instructions a
 * server executes per request move by a few per cent between runs, and callgrind's simulated
 * cache misses show what a larger working set costs on any machine. What this counts is user
 * space only (the kernel's socket work is the same for every server: one read and one writev per
 * request) and under a slowed clock (timers fire per fewer requests). It complements the timed
 * benchmarks; it does not replace them.
 *
 * Each server is warmed up with WARMUP_REQUESTS requests before counting starts, so the counted
 * code is the optimized code. Needs valgrind (`apt-get install -y valgrind`); skipped without it.
 * `BENCH_COUNTED` sets the requests counted per server (default 3000). Not part of `npm test`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../test/helpers/temp-dir.js';
import { startNodeChild } from './_load.js';

const VALGRIND = '/usr/bin/valgrind';
const CALLGRIND_CONTROL = '/usr/bin/callgrind_control';
const COUNTED = Number(process.env.BENCH_COUNTED ?? 3000);
const WARMUP_REQUESTS = 3000;
/** Requests in flight at once (keep-alive connections). */
const CONCURRENCY = 8;
/** A server under callgrind starts some fifty times slower than without. */
const START_TIMEOUT_MS = 180_000;
/** Each front measured: the child that serves it (bench/_credential-endpoint-server.ts, _agent-servers.ts, _secrets-servers.ts). */
const FRONTS = [
  { name: 'cached GET /v1/credentials', script: './_credential-endpoint-server.js', label: 'sidekey endpoint' },
  { name: 'cached GET /secretsmanager/get (agent API)', script: './_agent-servers.js', label: 'sidekey agent front' },
  { name: 'cached GET /latest/secrets/NAME (secrets API, SQLite)', script: './_secrets-servers.js', label: 'sidekey secrets front' },
] as const;
/** callgrind's event names, in the order of its `totals:` line with --cache-sim=yes. */
const EVENTS = ['Ir', 'Dr', 'Dw', 'I1mr', 'D1mr', 'D1mw', 'ILmr', 'DLmr', 'DLmw'] as const;
/** A rough cycle estimate: one per instruction, plus a penalty per simulated miss of L1 and of the last level. */
const L1_MISS_CYCLES = 10;
const LL_MISS_CYCLES = 100;

type Counts = Record<(typeof EVENTS)[number], number>;

/** `count` sequential-per-connection GETs, CONCURRENCY at a time; rejects on any answer but 200. */
async function requests(url: string, headers: Record<string, string>, count: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let left = count;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      get(url, { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${url} answered ${res.statusCode}`))));
      }).on('error', reject);
    });
  try {
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (left-- > 0) await one();
      }),
    );
  } finally {
    agent.destroy();
  }
}

async function counted(script: string, mode: 'bare' | 'floor' | 'sidekey', dir: string): Promise<Counts> {
  const out = join(dir, `${mode}.callgrind`);
  const { child, firstLine } = await startNodeChild(
    [fileURLToPath(new URL(script, import.meta.url)), mode],
    `${mode} server under callgrind`,
    [VALGRIND, '-q', '--tool=callgrind', '--cache-sim=yes', '--instr-atstart=no', `--callgrind-out-file=${out}`],
    START_TIMEOUT_MS,
  );
  try {
    // The credential endpoint's child prints its token, the others the headers to send.
    const started = JSON.parse(firstLine) as { url: string; token?: string; headers?: Record<string, string> };
    const { url } = started;
    const headers = started.headers ?? { authorization: started.token ?? '' };
    const pid = String(child.pid);
    await requests(url, headers, WARMUP_REQUESTS);
    execFileSync(CALLGRIND_CONTROL, ['-i', 'on', pid], { stdio: 'ignore' });
    await requests(url, headers, COUNTED);
    execFileSync(CALLGRIND_CONTROL, ['-i', 'off', pid], { stdio: 'ignore' });
    // Returns once the dump is written.
    execFileSync(CALLGRIND_CONTROL, ['-d', pid], { stdio: 'ignore' });
  } finally {
    child.kill('SIGKILL');
  }
  const totals: Counts = Object.fromEntries(EVENTS.map((e) => [e, 0])) as Counts;
  for (const file of readdirSync(dir).filter((f) => f.startsWith(`${mode}.callgrind`))) {
    const line = /^totals:(.*)$/m.exec(readFileSync(join(dir, file), 'utf8'))?.[1];
    line
      ?.trim()
      .split(/\s+/)
      .forEach((value, i) => {
        const event = EVENTS[i];
        if (event) totals[event] += Number(value);
      });
  }
  if (totals.Ir === 0) throw new Error(`callgrind wrote no counts for ${mode}`);
  return totals;
}

type PerRequest = ReturnType<typeof perRequest>;

const perRequest = (c: Counts) => {
  const l1 = c.I1mr + c.D1mr + c.D1mw;
  const ll = c.ILmr + c.DLmr + c.DLmw;
  return {
    ir: c.Ir / COUNTED,
    i1: c.I1mr / COUNTED,
    d1: (c.D1mr + c.D1mw) / COUNTED,
    ll: ll / COUNTED,
    cycles: (c.Ir + L1_MISS_CYCLES * l1 + LL_MISS_CYCLES * ll) / COUNTED,
  };
};

export async function run(): Promise<void> {
  if (!existsSync(VALGRIND) || !existsSync(CALLGRIND_CONTROL)) {
    process.stdout.write('skipped: valgrind is not installed (apt-get install -y valgrind)\n');
    return;
  }
  for (const front of FRONTS) {
    const dir = tempDir('sidekey-bench-callgrind-');
    try {
      process.stdout.write(
        `${front.name} under callgrind: ${COUNTED} requests counted per server after ${WARMUP_REQUESTS} to warm up, ${CONCURRENCY} keep-alive connections; node ${process.version}\n` +
          `per request: instructions, simulated L1 instruction and data misses, last-level misses, and an estimate of cycles (instructions + ${L1_MISS_CYCLES} per L1 miss + ${LL_MISS_CYCLES} per last-level miss)\n`,
      );
      const results = [];
      for (const [mode, label] of [
        ['bare', 'bare node:http'],
        ['floor', 'floor (requirements)'],
        ['sidekey', front.label],
      ] as const) {
        const r = perRequest(await counted(front.script, mode, dir.path));
        results.push(r);
        process.stdout.write(
          `${label.padEnd(22)} ${r.ir.toFixed(0).padStart(7)} instr  I1 miss ${r.i1.toFixed(0).padStart(5)}  D1 miss ${r.d1.toFixed(0).padStart(5)}  LL miss ${r.ll.toFixed(0).padStart(4)}  est. cycles ${r.cycles.toFixed(0).padStart(7)}\n`,
        );
      }
      const [bare, floor, ours] = results as [PerRequest, PerRequest, PerRequest];
      process.stdout.write(
        `bare / sidekey: ${(bare.ir / ours.ir).toFixed(2)}x in instructions, ${(bare.cycles / ours.cycles).toFixed(2)}x in estimated cycles; ` +
          `bare / floor: ${(bare.ir / floor.ir).toFixed(2)}x and ${(bare.cycles / floor.cycles).toFixed(2)}x\n`,
      );
    } finally {
      dir.remove();
    }
  }
}
