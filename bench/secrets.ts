/**
 * Secrets store benchmark, each figure against a baseline measured in the same run:
 *
 * 1. cached fetch through the real secrets front (auth, guards, routing, cache, audit line)
 *    versus a bare node:http server answering the same JSON, 64 connections: throughput, p50,
 *    p99, server CPU per request, and both ratios (target >= 0.8), with the floor of what each
 *    request requires (bench/_front-floor.ts: token check, audit line, metrics, nothing else)
 *    beside them, to show where the gap goes; plus a diagnostic run whose
 *    logger writes nothing, to show what the per-read audit line costs;
 * 2. uncached fetch (cache_ttl_seconds: 0: a SQLite read and a decryption per request);
 *    and the cached fetch on DynamoDB (dynalite, in a child process so its CPU is not counted as
 *    ours), where each cached answer costs one consistent read to see a foreign revoke, beside an
 *    uncached one (a full read and a decryption);
 * 3. creates on SQLite with durable commits (WAL, synchronous=FULL), 64 writers on distinct
 *    names, directly on the service and over HTTP (target >= 2000/s).
 *
 * `BENCH_SECONDS` sets each run's length (default 3 s), `BENCH_ROUNDS` the rounds (default 3). Not part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pino } from 'pino';
import { randomToken } from '../src/core/crypto/random-token.js';
import { createLogger, type Logger } from '../src/core/log/logger.js';
import { DynamoDbStore } from '../src/core/secrets/dynamodb-store.js';
import { LocalKeyring } from '../src/core/secrets/local-keyring.js';
import { SecretService } from '../src/core/secrets/secret-service.js';
import { SqliteStore } from '../src/core/secrets/sqlite-store.js';
import type { Daemon } from '../src/daemon/daemon.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { floorLine } from './_front-floor.js';
import { CLIENT, formatResult, interleaved, pairedRatio, type RoundsResult, roundRatios } from './_load.js';
import { bareServer, createSecret, dynamoStore, projectLogger, SECRET_PATH, secretsFloor, startSecretsDaemon } from './_secrets-servers.js';

/** Connections for the HTTP runs. */
const CONNECTIONS = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
/** Fetch runs alternate between the servers this many times; medians are reported (shared machines are noisy). */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** The targets this benchmark checks. */
const CACHED_RATIO_TARGET = 0.8;
const CREATES_PER_SECOND_TARGET = 2000;

interface Result {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
}
interface Request {
  method?: string;
  path?: string;
  body?: string;
  headers?: Record<string, string>;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  headers?: Record<string, string>;
  method?: string;
  requests?: { setupRequest?: (request: Request) => Request }[];
}) => Promise<Result>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

function line(label: string, r: Result): string {
  const failures = r.non2xx + r.errors > 0 ? `  (${r.non2xx} non-2xx, ${r.errors} errors)` : '';
  return `${label.padEnd(34)} ${r.requests.average.toFixed(0).padStart(7)} req/s  p50 ${String(r.latency.p50).padStart(3)} ms  p99 ${String(r.latency.p99).padStart(3)} ms${failures}`;
}

/**
 * The fetch runs' servers live in this process; the load generator (bench/_load.ts: wrk, or the
 * autocannon CLI) is a child process, so this process's CPU time over a run is the servers' own.
 */
const fetchTarget = (url: string, headers: Record<string, string>) => ({ url, connections: CONNECTIONS, headers, pids: [process.pid] });

/**
 * A logger that writes nothing: a diagnostic only (audit lines are required in production), to
 * attribute the front's cost between the audit line and the rest of the request path.
 */
function silentLogger(): Logger {
  return createLogger({ level: 'silent', destination: pino.destination({ dest: '/dev/null', sync: false }) });
}

/** dynalite in a child process; its URL, and a stop. */
async function startDynalite(): Promise<{ url: string; stop: () => void }> {
  const script =
    "import dynalite from 'dynalite'; const s = dynalite({ createTableMs: 0 }); s.listen(0, '127.0.0.1', () => console.log(s.address().port));";
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`dynalite exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill() };
}

async function createsDirect(dir: string): Promise<number> {
  const service = new SecretService({
    store: new SqliteStore(join(dir, 'direct/secrets.db')),
    keyring: new LocalKeyring({ keyFile: join(dir, 'direct/master.key') }),
  });
  await service.store.setup();
  let done = 0;
  const until = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, i) => {
      while (Date.now() < until) {
        await service.create('bench', `name-${i}`, `payload-${done}`, { actor: 'bench' });
        done++;
      }
    }),
  );
  await service.close();
  return done / SECONDS;
}

export async function run(): Promise<void> {
  const dir = tempDir('sidekey-bench-secrets-');
  const tokens = { admin: randomToken(), reader: randomToken() };
  const auth = { authorization: `Bearer ${tokens.reader}` };
  const daemons: Daemon[] = [];
  const dynamo = await startDynalite();
  // The daemons reach dynalite as a deployment reaches DynamoDB: the standard endpoint variable
  // and credential chain (dynalite checks no signature).
  const savedEnv = { ...process.env };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.url,
    AWS_ACCESS_KEY_ID: 'AKIDBENCHDYNALITE01',
    AWS_SECRET_ACCESS_KEY: 'dynalite-does-not-check',
  });
  try {
    for (const label of ['dynamo-cached', 'dynamo-uncached']) {
      const store = new DynamoDbStore({ table: `bench-${label}`, region: 'us-east-1' });
      await store.setup();
      await store.close();
    }
    const cached = await startSecretsDaemon(dir.path, 'cached', 30, tokens, projectLogger());
    const plain = await startSecretsDaemon(dir.path, 'silent', 30, tokens, silentLogger());
    const uncached = await startSecretsDaemon(dir.path, 'uncached', 0, tokens, projectLogger());
    const dynamoCached = await startSecretsDaemon(dir.path, 'dynamo-cached', 30, tokens, projectLogger(), dynamoStore('dynamo-cached'));
    const dynamoUncached = await startSecretsDaemon(
      dir.path,
      'dynamo-uncached',
      0,
      tokens,
      projectLogger(),
      dynamoStore('dynamo-uncached'),
    );
    daemons.push(cached.daemon, plain.daemon, uncached.daemon, dynamoCached.daemon, dynamoUncached.daemon);
    for (const target of [cached, plain, uncached, dynamoCached, dynamoUncached]) await createSecret(target.url, tokens.admin);
    const sample = await (await fetch(`${cached.url}${SECRET_PATH}`, { headers: auth })).json();
    const bare = await bareServer(sample);
    const floor = await secretsFloor(sample, tokens.reader);

    console.log(
      `secrets bench: ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} interleaved rounds (ratios: the median of the rounds'), node ${process.version}\n` +
        `client: ${CLIENT}`,
    );
    const path = SECRET_PATH;
    const [baseline, least, hot, hotPlain] = (await interleaved(
      [
        fetchTarget(`${bare.url}${path}`, auth),
        fetchTarget(`${floor.url}${path}`, auth),
        fetchTarget(`${cached.url}${path}`, auth),
        fetchTarget(`${plain.url}${path}`, auth),
      ],
      SECONDS,
      ROUNDS,
    )) as [RoundsResult, RoundsResult, RoundsResult, RoundsResult];
    console.log(formatResult('bare node:http (same JSON)', baseline, 34));
    console.log(formatResult('floor (requirements only)', least, 34));
    console.log(formatResult('cached fetch (secrets front)', hot, 34));
    const ratio = pairedRatio(hot, baseline);
    const cpuRatio = baseline.cpuMicros / hot.cpuMicros;
    const verdict = (value: number) => (value >= CACHED_RATIO_TARGET ? 'PASS' : 'MISS');
    console.log(
      `cached / bare throughput ratio: ${ratio.toFixed(2)} (target >= ${CACHED_RATIO_TARGET}) ${verdict(ratio)}; rounds: ${roundRatios(hot, baseline)}`,
    );
    console.log(`cached / bare CPU-efficiency ratio (bare us per request / ours): ${cpuRatio.toFixed(2)}`);
    process.stdout.write(floorLine(baseline, least, hot));
    console.log(formatResult('  diagnostic: no audit lines', hotPlain, 34));
    const plainRatio = baseline.cpuMicros / hotPlain.cpuMicros;
    console.log(`  diagnostic CPU-efficiency ratio without audit lines: ${plainRatio.toFixed(2)}`);

    const [cold] = (await interleaved([fetchTarget(`${uncached.url}${path}`, auth)], SECONDS, ROUNDS)) as [RoundsResult];
    console.log(formatResult('uncached fetch (SQLite + decrypt)', cold, 34));

    const [dynamoHot, dynamoCold] = (await interleaved(
      [fetchTarget(`${dynamoCached.url}${path}`, auth), fetchTarget(`${dynamoUncached.url}${path}`, auth)],
      SECONDS,
      ROUNDS,
    )) as [RoundsResult, RoundsResult];
    console.log(formatResult('cached fetch, DynamoDB (checked)', dynamoHot, 34));
    console.log(formatResult('uncached fetch, DynamoDB', dynamoCold, 34));
    console.log(
      `DynamoDB cached / bare throughput ratio: ${(dynamoHot.rps / baseline.rps).toFixed(2)}; cached / uncached: ${pairedRatio(dynamoHot, dynamoCold).toFixed(2)} (bound by dynalite, not a target)`,
    );

    let counter = 0;
    const httpCreates = await autocannon({
      url: uncached.url,
      connections: CONNECTIONS,
      duration: SECONDS,
      requests: [
        {
          setupRequest: (request) => ({
            ...request,
            method: 'POST',
            path: `/latest/secrets/bench-${counter++ % CONNECTIONS}`,
            headers: { authorization: `Bearer ${tokens.admin}`, 'content-type': 'application/json' },
            body: JSON.stringify({ payload: `value-${counter}` }),
          }),
        },
      ],
    });
    console.log(line('create over HTTP (durable)', httpCreates));
    const direct = await createsDirect(dir.path);
    console.log(
      `create on the service (durable)    ${direct.toFixed(0).padStart(7)} creates/s (target >= ${CREATES_PER_SECOND_TARGET}) ${direct >= CREATES_PER_SECOND_TARGET ? 'PASS' : 'MISS'}`,
    );
    await new Promise<void>((resolve) => bare.server.close(() => resolve()));
    await new Promise<void>((resolve) => floor.server.close(() => resolve()));
  } finally {
    for (const daemon of daemons) await daemon.stop(0);
    dynamo.stop();
    process.env = savedEnv;
    dir.remove();
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'))) await run();
