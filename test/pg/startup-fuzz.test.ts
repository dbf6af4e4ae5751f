/**
 * Hostile and broken first packets: random bytes, packets split anywhere, oversized, undersized,
 * slow, unsupported versions, data smuggled after SSLRequest. The proxy answers each with an
 * ErrorResponse carrying a SQLSTATE (or just closes), never crashes, and still serves a valid
 * login afterwards. The upstream is a minimal trust-auth fake: these tests never reach it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../src/core/config/load-config.js';
import { createCredentialBroker } from '../../src/core/credentials/create-credential-broker.js';
import { MetricsRegistry } from '../../src/core/metrics/metrics-registry.js';
import { MAX_STARTUP_PACKET_BYTES } from '../../src/core/pg/pg-limits.js';
import { createPgFront, type PgFront } from '../../src/pg-proxy/pg-front.js';
import { captureLogger } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startupPacket } from './fixtures/startup-packet.js';
import { createTestCa } from './fixtures/test-ca.js';

const STARTUP_TIMEOUT_MS = 300;
let upstream: Server;
let front: PgFront;
let port: number;
let tlsPort: number;
const dir = tempDir();

/** Sends parts (with a pause between), returns everything received until the proxy closes or `waitMs` passes. */
function exchange(parts: Buffer[], target = port, waitMs = 2000): Promise<Buffer> {
  return new Promise((resolve) => {
    const socket: Socket = connect(target, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.on('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, 20));
        if (!socket.destroyed) socket.write(part);
      }
    });
  });
}

function sqlState(reply: Buffer): string | undefined {
  const at = reply.indexOf(0x45); // 'E'
  if (at < 0) return undefined;
  const match = /C([0-9A-Z]{5})\0/.exec(reply.subarray(at).toString('latin1'));
  return match?.[1];
}

const loggedIn = (reply: Buffer) => reply.length >= 9 && reply[0] === 0x52 && reply.readInt32BE(5) === 0;

before(async () => {
  upstream = createServer((s) => {
    s.on('error', () => {});
    s.once('data', () =>
      s.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x4b, 0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 2, 0x5a, 0, 0, 0, 5, 0x49])),
    );
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as { port: number }).port;
  const cert = createTestCa(join(dir.path, 'ca')).issue('local', ['localhost']);
  const target = (name: string, extra = '') =>
    `    ${name}:\n      host: 127.0.0.1\n      port: ${upstreamPort}\n      user: app\n      auth: { password: "pw" }\n      tls: { mode: disable }\n      listen: 127.0.0.1:0\n${extra}`;
  const file = join(dir.path, 'sidekey.yaml');
  const yaml = [
    'postgres:',
    '  targets:',
    target('fuzz'),
    target('tls', `      client_tls: { cert_file: ${cert.certFile}, key_file: ${cert.keyFile} }\n`),
  ].join('\n');
  writeFileSync(file, yaml);
  const loaded = parseConfig(yaml, file);
  const { logger } = captureLogger('warn');
  const metrics = new MetricsRegistry();
  front = createPgFront(
    { loaded, logger, metrics, broker: createCredentialBroker(loaded, logger, metrics) },
    { startupTimeoutMs: STARTUP_TIMEOUT_MS },
  );
  await front.start();
  port = (front.listenerAddress('fuzz') as { port: number }).port;
  tlsPort = (front.listenerAddress('tls') as { port: number }).port;
});

after(async () => {
  await front.stop(0);
  upstream.close();
  dir.remove();
});

test('a valid startup packet split in the middle, at the end, or byte by byte still logs in', async () => {
  const packet = startupPacket({ user: 'me', database: 'db', application_name: 'fuzz' });
  const middle = packet.length >> 1;
  for (const parts of [
    [packet.subarray(0, middle), packet.subarray(middle)],
    [packet.subarray(0, packet.length - 1), packet.subarray(packet.length - 1)],
    [packet.subarray(0, 2), packet.subarray(2)],
    [...Array.from(packet.subarray(0, 12), (b) => Buffer.from([b])), packet.subarray(12)],
  ]) {
    assert.ok(loggedIn(await exchange(parts, port, 1000)), `split into ${parts.map((p) => p.length).join('+')}`);
  }
});

test('an oversized startup packet is refused from its header alone', async () => {
  const head = Buffer.alloc(8);
  head.writeInt32BE(MAX_STARTUP_PACKET_BYTES + 1, 0);
  head.writeInt32BE(196608, 4);
  const reply = await exchange([head]);
  assert.equal(sqlState(reply), '08P01');
  assert.match(reply.toString('latin1'), /exceeds the limit of 10240 bytes/);
});

test('malformed first packets get 08P01, 0A000 or 28000', async () => {
  const undersized = Buffer.from([0, 0, 0, 4]);
  const noTerminator = startupPacket({ user: 'me' }).subarray(0, -1);
  noTerminator.writeInt32BE(noTerminator.length, 0);
  const cases: Array<[Buffer, string]> = [
    [undersized, '08P01'],
    [startupPacket({ user: 'me' }, 2 << 16), '0A000'],
    [startupPacket({ database: 'x' }), '28000'],
    [noTerminator, '08P01'],
    [Buffer.concat([Buffer.from([0, 0, 0, 12]), Buffer.from([0x04, 0xd2, 0x16, 0x2f]), Buffer.alloc(4)]), '08P01'], // SSLRequest code, wrong length
  ];
  for (const [packet, code] of cases) assert.equal(sqlState(await exchange([packet])), code, packet.toString('hex'));
});

test('a slow client is refused after the startup timeout', async () => {
  const started = Date.now();
  const reply = await exchange([Buffer.from([0, 0, 0, 40])], port, 3000);
  assert.equal(sqlState(reply), '08P01');
  assert.match(reply.toString('latin1'), /timeout/);
  assert.ok(Date.now() - started < 2500);
});

test('GSSENCRequest gets N; unencrypted bytes smuggled after SSLRequest are refused', async () => {
  const gssenc = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30]);
  const reply = await exchange([Buffer.concat([gssenc, startupPacket({ user: 'me' })])], port, 1000);
  assert.equal(reply[0], 0x4e);
  assert.ok(loggedIn(reply.subarray(1)));
  const ssl = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
  const smuggled = await exchange([Buffer.concat([ssl, startupPacket({ user: 'me' })])], tlsPort);
  assert.equal(sqlState(smuggled), '08P01');
  assert.match(smuggled.toString('latin1'), /unencrypted data after SSL request/);
});

test('random bytes never crash the proxy, which still serves a valid login afterwards', async () => {
  const batch = async (n: number) =>
    Promise.all(
      Array.from({ length: n }, () => {
        const junk = randomBytes(1 + Math.floor(Math.random() * 64));
        // Half the time give it a plausible length so the body is parsed too.
        if (Math.random() < 0.5 && junk.length >= 8) junk.writeInt32BE(junk.length, 0);
        return exchange([junk], port, 400);
      }),
    );
  for (let round = 0; round < 10; round++) await batch(20);
  assert.ok(loggedIn(await exchange([startupPacket({ user: 'me' })], port, 1000)));
  assert.equal(front.sessions().filter((s) => s.state !== 'closed' && s.state !== 'relaying').length, 0);
});
