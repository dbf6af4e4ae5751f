/**
 * Metadata guard benchmark (issue 4): the guard against nginx (Debian's package) configured with
 * seed 002's exact rules, both in front of the same IMDS peer (its own process), in one run:
 * throughput and p99 for a static path and for a denied path, 64 connections (autocannon), and
 * the ratios. Target: at least 1.0x nginx's throughput with p99 no worse.
 *
 * Each server runs as its own process and logs every request as it would in production (nginx
 * its seed access log line, the guard its JSON line), both to /dev/null. `BENCH_SECONDS` sets each
 * run's length (default 5 s). Not part of `npm test`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../test/helpers/free-port.js';
import { tempDir } from '../test/helpers/temp-dir.js';

const NGINX = '/usr/sbin/nginx';
/** Connections per run, as issue 4 asks. */
const CONNECTIONS = 64;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
/** Warm-up before each measured run, in seconds (JIT, upstream connections, caches). */
const WARMUP_SECONDS = 1;
/** How long a child process may take to start listening, in milliseconds. */
const START_TIMEOUT_MS = 10_000;
const STATIC_PATH = '/latest/meta-data/instance-id';
const DENIED_PATH = '/latest/meta-data/iam/security-credentials/instance-role';

interface Result {
  requests: { average: number };
  latency: { p50: number; p99: number };
  non2xx: number;
  errors: number;
  statusCodeStats?: Record<string, { count: number }>;
}
type Autocannon = (options: { url: string; connections: number; duration: number; headers?: Record<string, string> }) => Promise<Result>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));

/** Starts a child that prints its URL on the first stdout line. */
function startChild(args: string[], what: string): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(`${what} did not start in ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const newline = out.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      resolve({ child, url: out.slice(0, newline).trim() });
    });
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}`)));
  });
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
const { createLogger } = await import(${url('../src/core/log/logger.js')});
const { Daemon } = await import(${url('../src/daemon/daemon.js')});
const { pino } = await import('pino');
const loaded = loadConfig(${JSON.stringify(file)});
const logger = createLogger({ level: 'info', destination: pino.destination({ dest: openSync('/dev/null', 'w'), sync: false }) });
await new Daemon({ loaded, logger }).start();
console.log('http://127.0.0.1:${port}');`;
  return startChild(['--input-type=module', '-e', script], 'the guard');
}

/** nginx with seed 002's exact server block; only the listen port, upstream and file paths differ. */
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

async function measure(url: string): Promise<Result> {
  await autocannon({ url, connections: CONNECTIONS, duration: WARMUP_SECONDS });
  return autocannon({ url, connections: CONNECTIONS, duration: SECONDS });
}

function line(label: string, r: Result): string {
  const statuses = Object.keys(r.statusCodeStats ?? {}).join('/');
  return `${label.padEnd(30)} ${r.requests.average.toFixed(0).padStart(7)} req/s  p50 ${String(r.latency.p50).padStart(3)} ms  p99 ${String(r.latency.p99).padStart(3)} ms  status ${statuses}${r.errors > 0 ? `  (${r.errors} errors)` : ''}`;
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
    process.stdout.write(`imds: guard vs nginx (seed 002 rules), ${CONNECTIONS} connections, ${SECONDS} s per run\n`);
    for (const [label, path] of [
      ['static', STATIC_PATH],
      ['denied', DENIED_PATH],
    ] as const) {
      const n = await measure(`${nginx.url}${path}`);
      const g = await measure(`${guard.url}${path}`);
      const ratio = g.requests.average / n.requests.average;
      process.stdout.write(`${line(`  nginx  ${label} ${path.length > 30 ? 'iam creds' : 'instance-id'}`, n)}\n`);
      process.stdout.write(`${line(`  guard  ${label} ${path.length > 30 ? 'iam creds' : 'instance-id'}`, g)}\n`);
      process.stdout.write(
        `  ${label}: throughput ratio ${ratio.toFixed(2)}x (target >= 1.0), p99 ${g.latency.p99} ms vs ${n.latency.p99} ms (target: no worse)\n`,
      );
    }
  } finally {
    for (const child of children.reverse()) child.kill('SIGTERM');
    dir.remove();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await run();
