/**
 * Metadata guard benchmark: the guard against nginx (Debian's package) configured with
 * the filtering rules users deploy nginx with today, both in front of the same IMDS peer (its own process), in one run:
 * throughput, p50/p99 and server CPU per request for a static path and for a denied path, 64
 * connections, and the ratios. Targets (TARGETS): the static path at least 3x nginx's throughput with
 * p99 no worse; the denied path at least 0.75x nginx's `return 403`.
 *
 * Each server runs as its own process and logs every request as it would in production (nginx
 * its seed access log line, the guard its JSON line through the daemon's buffered destination),
 * both to /dev/null. The load generator is wrk (or the autocannon CLI; bench/_load.ts), one
 * process shared by both sides; runs alternate nginx/guard `BENCH_ROUNDS` times (default 3) and
 * medians are reported. Server CPU counts nginx's master and worker, and the guard's process; the
 * IMDS peer's CPU (nginx forwards every static request, the guard answers from its cache) is not
 * counted on either side. The denied path also runs the Node floor (bench/_imds-floor.ts: node:net
 * writing the guard's denied reply on every read, nothing else) in the same rounds: what any
 * Node.js server pays per request here, so the guard's own share is measured, not guessed. `BENCH_SECONDS` sets each run's length (default 5 s). Not part of `npm test`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../test/helpers/free-port.js';
import { tempDir } from '../test/helpers/temp-dir.js';
import { rawReply, startImdsFloor } from './_imds-floor.js';
import { CLIENT, formatResult, interleaved, pairedRatio, roundRatios, startNodeChild, withChildren } from './_load.js';

const NGINX = '/usr/sbin/nginx';
/** Connections per run. */
const CONNECTIONS = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Warm-up before each measured run, in seconds (JIT, upstream connections, caches). */
const _WARMUP_SECONDS = 1;
/** How long a child process may take to start listening, in milliseconds. */
const START_TIMEOUT_MS = 10_000;
const STATIC_PATH = '/latest/meta-data/instance-id';
const DENIED_PATH = '/latest/meta-data/iam/security-credentials/instance-role';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Throughput ratios to nginx per path, and whether p99 must be no worse than nginx's. */
const TARGETS = { static: { ratio: 3, p99NoWorse: true }, denied: { ratio: 0.75, p99NoWorse: false } } as const;

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

/** Starts a child that prints its URL on the first stdout line. */
async function startChild(args: string[], what: string): Promise<{ child: ChildProcess; url: string }> {
  const { child, firstLine } = await startNodeChild(args, what);
  return { child, url: firstLine };
}

function startPeer() {
  const script = `const { ImdsPeer } = await import(${JSON.stringify(pathToFileURL(here('../test/peers/imds-peer.js')).href)});
const peer = new ImdsPeer(); peer.recording = false; console.log(await peer.listen());`;
  return startChild(['--input-type=module', '-e', script], 'the IMDS peer');
}

/** The guard as `sidekey serve` runs it, logs to /dev/null (the CLI is bypassed only to print the URL). */
async function startGuard(dir: string, upstream: string) {
  const port = await freePort();
  const file = join(dir, 'sidekey.yaml');
  writeFileSync(
    file,
    JSON.stringify({ admin: { listen: '127.0.0.1:0' }, logging: { level: 'info' }, imds: { listen: `127.0.0.1:${port}`, upstream } }),
  );
  const url = (p: string) => JSON.stringify(pathToFileURL(here(p)).href);
  const script = `import { openSync } from 'node:fs';
const { loadConfig } = await import(${url('../src/core/config/load-config.js')});
const { bufferedDestination, createLogger } = await import(${url('../src/core/log/logger.js')});
const { Daemon } = await import(${url('../src/daemon/daemon.js')});
const loaded = loadConfig(${JSON.stringify(file)});
const logger = createLogger({ level: 'info', destination: bufferedDestination(openSync('/dev/null', 'w')) });
await new Daemon({ loaded, logger }).start();
console.log('http://127.0.0.1:${port}');`;
  return startChild(['--input-type=module', '-e', script], 'the guard');
}

/** nginx with that exact server block; only the listen port, upstream and file paths differ. */
async function startNginx(dir: string, upstream: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const upstreamHostPort = new URL(upstream).host;
  const conf = join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events {
worker_connections 1024;
}

http {
client_body_temp_path ${dir}/client_body;
proxy_temp_path ${dir}/proxy;
fastcgi_temp_path ${dir}/fastcgi;
uwsgi_temp_path ${dir}/uwsgi;
scgi_temp_path ${dir}/scgi;
log_format request 'method=$request_method uri="$request_uri" host=$host ua="$http_user_agent" remote=$remote_addr status=$status';
access_log /dev/null request;

server {
listen 127.0.0.1:${port};

# Disallow access to credentials obtained from the instance profile.
location ~ ^\\/.*\\/meta-data\\/iam\\/security-credentials\\/.* {
return 403;
}

# Disallow access to user data. In general, we shouldn't be putting secrets
# in user data, but just in case...
location ~ ^\\/.*\\/user-data.* {
return 403;
}

# Proxy all other request through to instance metadata.
location / {
proxy_pass http://${upstreamHostPort};
}
}
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', conf, '-e', `${dir}/error.log`], { stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    try {
      const res = await fetch(`${url}${STATIC_PATH}`);
      await res.arrayBuffer();
      if (res.status === 200) return { child, url };
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      const log = existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8').slice(-500) : '';
      throw new Error(`nginx did not start: ${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function run(): Promise<void> {
  if (!existsSync(NGINX)) {
    process.stdout.write(`imds: skipped: ${NGINX} is missing (apt-get install nginx)\n`);
    return;
  }
  const dir = tempDir('sidekey-bench-imds-');
  const children: ChildProcess[] = [];
  try {
    const peer = await startPeer();
    children.push(peer.child);
    const guard = await startGuard(dir.path, peer.url);
    children.push(guard.child);
    const nginx = await startNginx(dir.path, peer.url);
    children.push(nginx.child);
    process.stdout.write(
      `imds: guard vs nginx (same rules), ${CONNECTIONS} connections, ${SECONDS} s per run, ${ROUNDS} interleaved rounds (ratios: the median of the rounds')\n` +
        `client: ${CLIENT}; node ${process.version}\n`,
    );
    const nginxPids = withChildren(nginx.child.pid as number);
    const guardPids = [guard.child.pid as number];
    // The floor replays the guard's own denied answer, byte for byte.
    const floor = await startImdsFloor(await rawReply(guard.url, DENIED_PATH));
    children.push(floor.child);
    for (const [label, path] of [
      ['static', STATIC_PATH],
      ['denied', DENIED_PATH],
    ] as const) {
      const withFloor = path === DENIED_PATH;
      const [n, g, f] = await interleaved(
        [
          { url: `${nginx.url}${path}`, connections: CONNECTIONS, pids: nginxPids },
          { url: `${guard.url}${path}`, connections: CONNECTIONS, pids: guardPids },
          ...(withFloor ? [{ url: `${floor.url}${path}`, connections: CONNECTIONS, pids: [floor.child.pid as number] }] : []),
        ],
        SECONDS,
        ROUNDS,
      );
      if (!n || !g) throw new Error('imds: a run returned no result');
      const what = path.length > 30 ? 'iam creds' : 'instance-id';
      process.stdout.write(`${formatResult(`  nginx  ${label} ${what}`, n)}\n`);
      process.stdout.write(`${formatResult(`  guard  ${label} ${what}`, g)}\n`);
      if (f) process.stdout.write(`${formatResult(`  floor  ${label} ${what}`, f)}\n`);
      const ratio = pairedRatio(g, n);
      const target = TARGETS[label as keyof typeof TARGETS];
      const verdict = ratio >= target.ratio && (!target.p99NoWorse || g.p99 <= n.p99) ? 'meets' : 'MISSES';
      process.stdout.write(
        `  ${label}: throughput ratio ${ratio.toFixed(2)}x (target >= ${target.ratio}), p99 ${g.p99.toFixed(2)} ms vs ${n.p99.toFixed(2)} ms${target.p99NoWorse ? ' (target: no worse)' : ''}: ${verdict} the target (rounds: ${roundRatios(g, n)}); ` +
          `CPU-efficiency ratio (nginx us/req / guard us/req) ${(n.cpuMicros / g.cpuMicros).toFixed(2)}x\n`,
      );
      if (f)
        process.stdout.write(
          `  ${label}, Node floor (node:net, the same reply bytes, no work): ${pairedRatio(f, n).toFixed(2)}x nginx's throughput, p99 ${f.p99.toFixed(2)} ms vs ${n.p99.toFixed(2)} ms; ` +
            `guard/floor ${pairedRatio(g, f).toFixed(2)}x, ${(g.cpuMicros - f.cpuMicros).toFixed(1)} us/req of CPU above it\n`,
        );
    }
  } finally {
    for (const child of children.reverse()) child.kill('SIGTERM');
    dir.remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
