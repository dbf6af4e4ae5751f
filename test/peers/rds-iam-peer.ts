/**
 * Stands where RDS would for the Postgres proxy tests. It speaks the wire protocol itself (it
 * shares no code with src/): requires TLS (a certificate for the host name the proxy verifies),
 * asks for a cleartext password, verifies the IAM token independently (SigV4 signature with the
 * key it knows, expiry, Action=connect, DBUser equal to the startup user, host:port equal to its
 * own advertised endpoint), and only then logs in to the real PostgreSQL over its unix socket
 * (trust there) and relays. Refusals are ErrorResponses worded like RDS's.
 */
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { type KnownKey, verifyPresignedUrl } from './sigv4-verifier.js';

export interface RdsIamPeerOptions {
  /** The real PostgreSQL: its unix socket directory and port. */
  readonly postgres: { readonly socketDir: string; readonly port: number };
  readonly tls: { readonly certFile: string; readonly keyFile: string };
  /** The host name clients use (and sign tokens for), e.g. "localhost". */
  readonly hostname: string;
  readonly region: string;
  readonly keys: ReadonlyMap<string, KnownKey>;
  readonly now?: () => Date;
}

export interface PeerLogin {
  readonly user: string;
  readonly ok: boolean;
  readonly reason: string;
}

export interface RdsIamPeer {
  readonly port: number;
  /** host:port, as tokens must name it. */
  readonly endpoint: string;
  readonly logins: PeerLogin[];
  /** Every token presented (for checks that none reaches a log). */
  readonly tokens: string[];
  readonly cancels: number;
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;

/** Reads exact byte counts from a socket. */
class Bytes {
  #buffer = Buffer.alloc(0);
  #want: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  #closed = false;
  readonly #socket: Socket;
  readonly #onData = (chunk: Buffer) => {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    this.#serve();
  };
  readonly #onClose = () => {
    this.#closed = true;
    this.#serve();
  };

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('close', this.#onClose);
    socket.on('end', this.#onClose);
    socket.on('error', this.#onClose);
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#want = { n, resolve, reject };
      this.#serve();
    });
  }

  release(): Buffer {
    this.#socket.off('data', this.#onData);
    this.#socket.off('close', this.#onClose);
    this.#socket.off('end', this.#onClose);
    this.#socket.off('error', this.#onClose);
    this.#socket.pause();
    return this.#buffer;
  }

  #serve(): void {
    const want = this.#want;
    if (!want) return;
    if (this.#buffer.length >= want.n) {
      this.#want = undefined;
      const out = this.#buffer.subarray(0, want.n);
      this.#buffer = this.#buffer.subarray(want.n);
      want.resolve(out);
    } else if (this.#closed) {
      this.#want = undefined;
      want.reject(new Error('closed'));
    }
  }
}

function errorResponse(code: string, message: string): Buffer {
  const body = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const head = Buffer.alloc(5);
  head[0] = 0x45;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

function startupParams(body: Buffer): Map<string, string> {
  const parts = body.toString('utf8').split('\0');
  const params = new Map<string, string>();
  for (let i = 0; i + 1 < parts.length && parts[i] !== ''; i += 2) params.set(parts[i] as string, parts[i + 1] as string);
  return params;
}

export async function startRdsIamPeer(options: RdsIamPeerOptions): Promise<RdsIamPeer> {
  const logins: PeerLogin[] = [];
  const tokens: string[] = [];
  let cancels = 0;
  const cert = readFileSync(options.tls.certFile);
  const key = readFileSync(options.tls.keyFile);
  const pgSocketPath = join(options.postgres.socketDir, `.s.PGSQL.${options.postgres.port}`);
  const open = new Set<Socket>();
  let endpoint = '';

  const handle = async (raw: Socket) => {
    let socket: Socket = raw;
    let bytes = new Bytes(socket);
    let tls = false;
    const refuse = (code: string, message: string) => socket.end(errorResponse(code, message));
    try {
      for (;;) {
        const length = (await bytes.read(4)).readInt32BE(0);
        if (length < 8 || length > 10_000) return refuse('08P01', 'invalid length of startup packet');
        const packet = await bytes.read(length - 4);
        const code = packet.readInt32BE(0);
        if (code === SSL_REQUEST && !tls) {
          socket.write('S');
          bytes.release();
          const secure = new TLSSocket(socket, { isServer: true, cert, key });
          await new Promise<void>((resolve, reject) => {
            secure.once('secure', resolve);
            secure.once('error', reject);
          });
          secure.on('error', () => {});
          socket = secure;
          bytes = new Bytes(socket);
          tls = true;
          continue;
        }
        if (code === GSSENC_REQUEST) {
          socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          cancels++;
          const pg = connect(pgSocketPath);
          pg.on('error', () => {});
          pg.end(Buffer.concat([Buffer.from([0, 0, 0, 16]), packet]));
          socket.end();
          return;
        }
        const params = startupParams(packet.subarray(4));
        const user = params.get('user') ?? '';
        const database = params.get('database') ?? user;
        if (!tls) {
          logins.push({ user, ok: false, reason: 'no TLS' });
          return refuse(
            '28000',
            `no pg_hba.conf entry for host "${raw.remoteAddress}", user "${user}", database "${database}", no encryption`,
          );
        }
        // AuthenticationCleartextPassword
        socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]));
        const type = (await bytes.read(1))[0];
        const passwordLength = (await bytes.read(4)).readInt32BE(0);
        if (type !== 0x70 || passwordLength < 5 || passwordLength > 10_000) return refuse('08P01', 'expected a password message');
        const token = (await bytes.read(passwordLength - 4)).toString('utf8').replace(/\0$/, '');
        tokens.push(token);
        const verdict = verifyPresignedUrl(token, {
          keys: options.keys,
          service: 'rds-db',
          region: options.region,
          maxExpiresSeconds: 900,
          ...(options.now ? { now: options.now() } : {}),
        });
        let reason = verdict.ok ? '' : `${verdict.code}: ${verdict.message}`;
        let sqlState = '28P01';
        if (verdict.ok) {
          const url = new URL(`https://${token}`);
          if (verdict.params?.get('Action') !== 'connect') reason = 'Action is not connect';
          else if (verdict.params?.get('DBUser') !== user) {
            reason = `token is for DBUser ${verdict.params?.get('DBUser')}, startup user is ${user}`;
            sqlState = '28000';
          } else if (url.host !== endpoint) {
            reason = `token is for host ${url.host}, this endpoint is ${endpoint}`;
            sqlState = '28000';
          }
        }
        logins.push({ user, ok: reason === '', reason });
        if (reason !== '') return refuse(sqlState, `PAM authentication failed for user "${user}"`);
        const upstream = connect(pgSocketPath);
        upstream.on('error', () => socket.destroy());
        const startup = Buffer.from(`\0\0\0\0\0\x03\0\0user\0${user}\0database\0${database}\0\0`, 'utf8');
        startup.writeInt32BE(startup.length, 0);
        upstream.write(startup);
        const rest = bytes.release();
        if (rest.length > 0) upstream.write(rest);
        socket.pipe(upstream);
        upstream.pipe(socket);
        socket.resume();
        socket.on('close', () => upstream.destroy());
        upstream.on('close', () => socket.destroy());
        return;
      }
    } catch {
      socket.destroy();
    }
  };

  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    void handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  endpoint = `${options.hostname}:${port}`;
  return {
    port,
    endpoint,
    logins,
    tokens,
    get cancels() {
      return cancels;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
