/**
 * pgbench select-only (-S) against one real PostgreSQL in one run: directly, through the sidekey
 * Postgres proxy (direct mode, password upstream; with session pooling, the default, and with
 * pool.max_idle: 0), and through pgbouncer (session mode). Persistent connections and -C (a new
 * connection per transaction). Targets: persistent >= 0.9 x pgbouncer's TPS; -C >= 0.75 x pgbouncer's.
 *
 * What each path does, so the comparison is stated, not implied:
 * - every hop is plain TCP on 127.0.0.1 (pgbench sslmode=disable, sidekey tls.mode: disable,
 *   pgbouncer server_tls_sslmode = disable): no TLS anywhere;
 * - direct: pgbench authenticates to PostgreSQL with SCRAM-SHA-256 on every connection;
 * - sidekey and pgbouncer: the client side is trust (loopback), the upstream login is SCRAM with
 *   the configured password, made only when no pooled connection is free;
 * - both proxies log: sidekey an audit line per login and a line per session end (JSON,
 *   buffered, to /dev/null), pgbouncer its default connection and disconnection lines (to a file);
 * - so in -C, direct pays SCRAM and a backend fork per transaction, the pooled proxies pay
 *   neither; sidekey without pooling pays both plus its own hop.
 *
 * `node-floor` (bench/_pg-floor.ts) runs in the same rounds: the least a Node.js proxy does per
 * connection, with no checks and no logs, to show how much of sidekey's cost is Node's own and
 * whether a target is within reach of any Node.js proxy here (BENCH_PG_FLOOR=0 leaves it out).
 *
 * While iterating: BENCH_PG_PATHS and BENCH_PG_MODES pick paths and modes, and BENCH_PG_BASE=DIR
 * runs another build of sidekey (a tsc output directory) as `sidekey-base` in the same rounds, for
 * an A/B comparison of a change on a machine where runs minutes apart differ by 10 to 20%.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseConfig } from '../src/core/config/load-config.js';
import { createCredentialBroker } from '../src/core/credentials/create-credential-broker.js';
import { bufferedDestination, createLogger } from '../src/core/log/logger.js';
import { MetricsRegistry } from '../src/core/metrics/metrics-registry.js';
import { createPgFront } from '../src/pg-proxy/pg-front.js';
import { freePort, PG_USERS, startPostgres } from '../test/helpers/postgres-server.js';
import { initPgbench, runTool } from '../test/pg/fixtures/pg-tools.js';
import { plainTargetYaml } from '../test/pg/fixtures/plain-target.js';
import { middle } from './_load.js';
import { type FloorProxy, startFloorProxy } from './_pg-floor.js';

/** Seconds per pgbench run (BENCH_SECONDS overrides, for short runs while iterating). */
const RUN_SECONDS = Number(process.env.BENCH_SECONDS ?? 4);
/** Seconds of unrecorded pgbench per (path, mode) before the rounds: the first round otherwise pays the JIT's warm-up. */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2);
/** Each (path, mode) runs this often, paths interleaved, and the median is reported (a shared machine is noisy). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = 8;
/** Also measure the Node.js floor (bench/_pg-floor.ts); on unless BENCH_PG_FLOOR=0. */
const WITH_FLOOR = process.env.BENCH_PG_FLOOR !== '0';
const THREADS = 2;
/** Only these paths (comma-separated names, e.g. `sidekey,pgbouncer`), for runs that compare a few; all by default. */
const ONLY_PATHS = process.env.BENCH_PG_PATHS?.split(',').filter(Boolean);
/** Only these modes (`P` persistent, `C` -C; comma-separated); both by default. */
const MODES = (process.env.BENCH_PG_MODES ?? 'P,C').split(',').map((mode) => mode === 'C');
/**
 * Another build of sidekey (its tsc output directory, e.g. `.build/pg-base`) run as path
 * `sidekey-base` in the same process and rounds, interleaved with this one: an A/B measurement of
 * a change on a machine too noisy for runs made minutes apart to be compared.
 */
const BASE_BUILD = process.env.BENCH_PG_BASE;

interface Run {
  readonly tps: number;
  readonly transactions: number;
}

async function pgbench(port: number, reconnect: boolean, seconds = RUN_SECONDS): Promise<Run> {
  const args = [
    '-n',
    '-S',
    '-T',
    String(seconds),
    '-c',
    String(CLIENTS),
    '-j',
    String(THREADS),
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'app_user',
    'orders',
  ];
  if (reconnect) args.push('-C');
  const result = await runTool(
    'pgbench',
    args,
    { PGPASSWORD: PG_USERS.app_user, PGSSLMODE: 'disable' },
    { timeoutMs: (seconds + 30) * 1000 },
  );
  const tps = /tps = ([\d.]+)/.exec(result.stdout);
  const done = /number of transactions actually processed: (\d+)/.exec(result.stdout);
  if (result.code !== 0 || !tps) throw new Error(`pgbench failed on port ${port}: ${result.stderr.slice(0, 500)}`);
  return { tps: Number(tps[1]), transactions: Number(done?.[1] ?? 0) };
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

async function startPgbouncer(dir: string, pgPort: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const ids = postgresIds();
  const ini = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'userlist.txt');
  writeFileSync(users, `"app_user" "${PG_USERS.app_user}"\n`);
  writeFileSync(
    ini,
    [
      '[databases]',
      `orders = host=127.0.0.1 port=${pgPort} dbname=orders user=app_user password=${PG_USERS.app_user}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      "unix_socket_dir = ''",
      'auth_type = trust',
      `auth_file = ${users}`,
      'pool_mode = session',
      'server_tls_sslmode = disable',
      'max_client_conn = 200',
      `default_pool_size = ${CLIENTS * 2}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      // pgbouncer's defaults: a log line per connection and per disconnection, as sidekey writes its audit line and session line.
      'log_connections = 1',
      'log_disconnections = 1',
      '',
    ].join('\n'),
  );
  for (const file of [ini, users]) if (ids) chownSync(file, ids.uid, ids.gid);
  const child = spawn('/usr/sbin/pgbouncer', [ini], { stdio: 'ignore', ...(ids ?? {}) });
  for (let i = 0; i < 50; i++) {
    const probe = await runTool(
      'psql',
      ['-h', '127.0.0.1', '-p', String(port), '-U', 'app_user', '-d', 'orders', '-Atc', 'SELECT 1'],
      { PGSSLMODE: 'disable' },
      { timeoutMs: 5000 },
    );
    if (probe.code === 0) return { port, child };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill();
  throw new Error('pgbouncer did not start');
}

type FrontFactory = typeof createPgFront;

/** createPgFront and what it needs, from another build directory (BENCH_PG_BASE). */
async function baseBuild(dir: string): Promise<{
  createPgFront: FrontFactory;
  parseConfig: typeof parseConfig;
  createCredentialBroker: typeof createCredentialBroker;
  createLogger: typeof createLogger;
  bufferedDestination: typeof bufferedDestination;
  MetricsRegistry: typeof MetricsRegistry;
}> {
  const load = (path: string) => import(pathToFileURL(resolve(dir, path)).href);
  const [front, config, broker, logger, registry] = await Promise.all([
    load('src/pg-proxy/pg-front.js'),
    load('src/core/config/load-config.js'),
    load('src/core/credentials/create-credential-broker.js'),
    load('src/core/log/logger.js'),
    load('src/core/metrics/metrics-registry.js'),
  ]);
  return { ...front, ...config, ...broker, ...logger, ...registry };
}

export async function run(): Promise<void> {
  const postgres = await startPostgres();
  let bouncer: ChildProcess | undefined;
  let floor: FloorProxy | undefined;
  let stopBase: (() => Promise<void>) | undefined;
  try {
    await initPgbench(postgres, 'orders', 'app_user');

    // The same target twice: pooled (the default pool) and with pooling off.
    const target = (name: string, extra: string[] = []) => plainTargetYaml(name, postgres.port, ['      max_connections: 1000', ...extra]);
    const yaml = ['postgres:', '  targets:', ...target('bench'), ...target('bench-nopool', ['      pool: { max_idle: 0 }'])].join('\n');
    const loaded = parseConfig(yaml, join(postgres.dir, 'sidekey.yaml'));
    // Real JSON logging (an audit line per login, a line per session end) through the daemon's buffered destination, to /dev/null.
    const logger = createLogger({ destination: bufferedDestination('/dev/null') });
    const metrics = new MetricsRegistry();
    const front = createPgFront({ loaded, logger, metrics, broker: createCredentialBroker(loaded, logger, metrics) });
    await front.start();
    const proxyPort = (front.listenerAddress('bench') as { port: number }).port;
    const noPoolPort = (front.listenerAddress('bench-nopool') as { port: number }).port;
    const pgb = await startPgbouncer(postgres.dir, postgres.port);
    bouncer = pgb.child;

    if (WITH_FLOOR) floor = await startFloorProxy(postgres.port, 'app_user', PG_USERS.app_user, 'orders');
    let basePort: number | undefined;
    if (BASE_BUILD) {
      const base = await baseBuild(BASE_BUILD);
      const baseLoaded = base.parseConfig(yaml, join(postgres.dir, 'sidekey-base.yaml'));
      const baseLogger = base.createLogger({ destination: base.bufferedDestination('/dev/null') });
      const baseMetrics = new base.MetricsRegistry();
      const baseFront = base.createPgFront({
        loaded: baseLoaded,
        logger: baseLogger,
        metrics: baseMetrics,
        broker: base.createCredentialBroker(baseLoaded, baseLogger, baseMetrics),
      });
      await baseFront.start();
      basePort = (baseFront.listenerAddress('bench') as { port: number }).port;
      stopBase = () => baseFront.stop(0);
    }
    type Path = 'direct' | 'sidekey' | 'sidekey-nopool' | 'pgbouncer' | 'node-floor' | 'sidekey-base';
    const paths: ReadonlyArray<readonly [Path, number]> = (
      [
        ['direct', postgres.port],
        ['sidekey', proxyPort],
        ...(basePort === undefined ? [] : [['sidekey-base', basePort] as const]),
        ['sidekey-nopool', noPoolPort],
        ['pgbouncer', pgb.port],
        ...(floor ? [['node-floor', floor.port] as const] : []),
      ] as ReadonlyArray<readonly [Path, number]>
    ).filter(([name]) => !ONLY_PATHS || ONLY_PATHS.includes(name));
    /** The proxy's CPU seconds, read around each run: this process for sidekey, /proc for pgbouncer. */
    const proxyCpu = (path: Path): number => {
      if (path === 'pgbouncer') return processCpuSeconds(pgb.child.pid as number);
      const usage = process.cpuUsage();
      return path === 'direct' ? 0 : (usage.user + usage.system) / 1e6;
    };
    const runs = new Map<string, { tps: number[]; cpuUsPerTx: number[] }>();
    if (WARMUP_SECONDS > 0) for (const [, port] of paths) for (const reconnect of MODES) await pgbench(port, reconnect, WARMUP_SECONDS);
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < paths.length; i++) {
        const [name, port] = paths[(i + round) % paths.length] as readonly [Path, number];
        for (const reconnect of MODES) {
          const before = proxyCpu(name);
          const run = await pgbench(port, reconnect);
          const cpu = proxyCpu(name) - before;
          const key = `${name}/${reconnect ? 'C' : 'P'}`;
          const entry = runs.get(key) ?? { tps: [], cpuUsPerTx: [] };
          entry.tps.push(run.tps);
          entry.cpuUsPerTx.push(run.transactions > 0 ? (cpu * 1e6) / run.transactions : 0);
          runs.set(key, entry);
        }
      }
    }
    const tps = (name: Path, mode: 'P' | 'C') => median(runs.get(`${name}/${mode}`)?.tps ?? [0]);
    const cpuPerTx = (name: Path, mode: 'P' | 'C') => median(runs.get(`${name}/${mode}`)?.cpuUsPerTx ?? [0]);
    /**
     * `a`'s TPS against `b`'s: the median of the rounds' ratios (each round runs both within
     * seconds, so a load that comes and goes moves both sides of a round's ratio). 0 when either
     * path was left out.
     */
    const ratio = (a: Path, b: Path, mode: 'P' | 'C') => {
      const ours = runs.get(`${a}/${mode}`)?.tps;
      const theirs = runs.get(`${b}/${mode}`)?.tps;
      return ours && theirs ? middle(ours.map((tps, round) => tps / (theirs[round] as number))) : 0;
    };
    const results: Record<string, { persistent: number; reconnect: number }> = {};
    for (const [name] of paths) results[name] = { persistent: tps(name, 'P'), reconnect: tps(name, 'C') };
    const render = await metrics.render();
    await front.stop(0);
    await stopBase?.();
    const fmt = (v: number) => v.toFixed(0).padStart(8);
    const hits = Number(/sidekey_pg_pool_checkouts_total\{outcome="hit",target="bench"\} (\d+)/.exec(render)?.[1] ?? 0);
    const misses = Number(/sidekey_pg_pool_checkouts_total\{outcome="miss",target="bench"\} (\d+)/.exec(render)?.[1] ?? 0);
    const verdict = (ratio: number, target: number) =>
      Number.isFinite(ratio) && ratio > 0
        ? `${ratio.toFixed(2)} (target >= ${target.toFixed(2)}: ${ratio >= target ? 'met' : 'NOT met'})`
        : 'n/a (a path of this ratio was not run)';
    process.stdout.write(
      `pgbench -S, ${CLIENTS} clients, ${THREADS} threads, ${RUN_SECONDS} s per run, median of ${ROUNDS} interleaved rounds (ratios: the median of the rounds'); plain TCP on loopback everywhere\n`,
    );
    process.stdout.write('                 TPS persistent       -C   proxy CPU us/tx persistent     -C\n');
    for (const [name, r] of Object.entries(results)) {
      const cpu = name === 'direct' ? '' : `${fmt(cpuPerTx(name as Path, 'P'))}   ${fmt(cpuPerTx(name as Path, 'C'))}`;
      process.stdout.write(`${name.padEnd(16)} ${fmt(r.persistent)}     ${fmt(r.reconnect)}            ${cpu}\n`);
    }
    process.stdout.write(
      `sidekey/pgbouncer persistent:     ${verdict(ratio('sidekey', 'pgbouncer', 'P'), 0.9)}\n` +
        `sidekey/pgbouncer -C (pooled):    ${verdict(ratio('sidekey', 'pgbouncer', 'C'), 0.75)}\n` +
        `sidekey/direct persistent:        ${ratio('sidekey', 'direct', 'P').toFixed(2)}\n` +
        `sidekey-nopool/pgbouncer -C:      ${ratio('sidekey-nopool', 'pgbouncer', 'C').toFixed(2)}\n` +
        `sidekey/direct -C:                ${ratio('sidekey', 'direct', 'C').toFixed(2)} (direct pays SCRAM + a backend fork per connection)\n` +
        `pgbouncer/direct persistent:      ${ratio('pgbouncer', 'direct', 'P').toFixed(2)}\n` +
        `proxy CPU per -C transaction, sidekey/pgbouncer: ${(cpuPerTx('sidekey', 'C') / cpuPerTx('pgbouncer', 'C')).toFixed(2)}; persistent: ${(cpuPerTx('sidekey', 'P') / cpuPerTx('pgbouncer', 'P')).toFixed(2)}\n` +
        `pool checkouts on "bench": ${hits} hits, ${misses} misses\n`,
    );
    // Every round's numbers, in run order, for a reader who wants the spread and not only the median.
    for (const [key, entry] of runs) {
      const list = (values: number[]) => values.map((v) => v.toFixed(0)).join(' ');
      process.stdout.write(`  ${key.padEnd(18)} TPS ${list(entry.tps)}; CPU us/tx ${list(entry.cpuUsPerTx)}\n`);
    }
    const a = results['sidekey-base'];
    if (a) {
      process.stdout.write(
        `sidekey/sidekey-base: -C TPS ${ratio('sidekey', 'sidekey-base', 'C').toFixed(3)}, CPU us/tx ${(cpuPerTx('sidekey', 'C') / cpuPerTx('sidekey-base', 'C')).toFixed(3)}; ` +
          `persistent TPS ${ratio('sidekey', 'sidekey-base', 'P').toFixed(3)}, CPU us/tx ${(cpuPerTx('sidekey', 'P') / cpuPerTx('sidekey-base', 'P')).toFixed(3)}\n`,
      );
    }
    const f = results['node-floor'];
    if (f) {
      process.stdout.write(
        `node-floor/pgbouncer -C:          ${ratio('node-floor', 'pgbouncer', 'C').toFixed(2)}; sidekey/node-floor -C: ${ratio('sidekey', 'node-floor', 'C').toFixed(2)}; ` +
          `node-floor/direct persistent: ${ratio('node-floor', 'direct', 'P').toFixed(2)}\n`,
      );
    }
  } finally {
    floor?.close();
    bouncer?.kill('SIGINT');
    await postgres.stop();
  }
}
