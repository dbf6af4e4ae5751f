/**
 * Starts a real PostgreSQL for the tests: initdb into a temp dir, SCRAM for TCP, trust on its
 * private unix socket, SSL on with a certificate from a test CA; run as the `postgres` OS user
 * when the tests run as root. One per test file; stop it in after().
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestCa, type TestCa } from '../pg/fixtures/test-ca.js';

const PG_BIN = process.env.SIDEKEY_PG_BIN ?? '/usr/lib/postgresql/15/bin';
/** How long PostgreSQL may take to accept connections after start. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

/** Roles created in every test server: one per upstream auth method the proxy must speak. */
export const PG_USERS = {
  /** SCRAM-SHA-256 (the default). */
  app_user: 'app-user-password-0001',
  /** MD5 (pg_hba md5, stored as an md5 hash). */
  md5_user: 'md5-user-password-0002',
  /** Cleartext password over TLS (pg_hba `password`), as RDS IAM asks. */
  clear_user: 'clear-user-password-0003',
} as const;

export interface TestPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Directory of the unix socket (trust auth for every role). */
  readonly socketDir: string;
  readonly ca: TestCa;
  readonly dir: string;
  /** A superuser client over the unix socket. */
  query(sql: string): Promise<pg.QueryResult>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

export async function startPostgres(): Promise<TestPostgres> {
  const ids = postgresIds();
  const dir = mkdtempSync(join(tmpdir(), 'sidekey-pg-'));
  const own = (path: string) => ids && chownSync(path, ids.uid, ids.gid);
  own(dir);
  const data = join(dir, 'data');
  const ca = createTestCa(join(dir, 'certs'));
  const server = ca.issue('postgres', ['localhost', '127.0.0.1']);
  const sslCert = join(dir, 'server.crt');
  const sslKey = join(dir, 'server.key');
  copyFileSync(server.certFile, sslCert);
  copyFileSync(server.keyFile, sslKey);
  chmodSync(sslKey, 0o600);
  own(sslCert);
  own(sslKey);
  execFileSync(
    join(PG_BIN, 'initdb'),
    ['-D', data, '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--auth-local=trust', '--auth-host=scram-sha-256'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(ids ?? {}),
    },
  );
  const port = await freePort();
  const conf = [
    `port = ${port}`,
    "listen_addresses = '127.0.0.1'",
    `unix_socket_directories = '${dir}'`,
    'ssl = on',
    `ssl_cert_file = '${sslCert}'`,
    `ssl_key_file = '${sslKey}'`,
    'max_connections = 150',
    'shared_buffers = 32MB',
    'fsync = off',
    'synchronous_commit = off',
    'full_page_writes = off',
    "password_encryption = 'scram-sha-256'",
    'log_min_messages = warning',
  ];
  writeFileSync(join(data, 'postgresql.auto.conf'), `${conf.join('\n')}\n`);
  writeFileSync(
    join(data, 'pg_hba.conf'),
    [
      'local all all trust',
      'hostssl all md5_user 127.0.0.1/32 md5',
      'hostssl all clear_user 127.0.0.1/32 password',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  own(join(data, 'pg_hba.conf'));
  own(join(data, 'postgresql.auto.conf'));
  const child: ChildProcess = spawn(join(PG_BIN, 'postgres'), ['-D', data], { stdio: ['ignore', 'ignore', 'pipe'], ...(ids ?? {}) });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const superuser = () => new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const client = superuser();
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => {});
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const query = async (sql: string) => {
    const client = superuser();
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await query(`CREATE ROLE app_user LOGIN PASSWORD '${PG_USERS.app_user}'`);
  await query(`SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD '${PG_USERS.md5_user}'`);
  await query(`CREATE ROLE clear_user LOGIN PASSWORD '${PG_USERS.clear_user}'`);
  await query('CREATE DATABASE orders OWNER app_user');
  return {
    host: '127.0.0.1',
    port,
    socketDir: dir,
    ca,
    dir,
    query,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      }
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
