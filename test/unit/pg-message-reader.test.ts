import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeErrorResponse } from '../../src/core/pg/backend-messages.js';
import { FrameBoundary } from '../../src/core/pg/frame-boundary.js';
import { encodeStartupMessage } from '../../src/core/pg/frontend-messages.js';
import { MessageReader } from '../../src/core/pg/message-reader.js';
import { PgPeerError } from '../../src/core/pg/pg-peer-error.js';
import { decodeStartupPacket } from '../../src/core/pg/startup-packet.js';

const messages = Buffer.concat([
  Buffer.from([0x5a, 0, 0, 0, 5, 0x49]),
  encodeErrorResponse({ severity: 'FATAL', code: '28000', message: 'no' }),
  Buffer.from([0x5a, 0, 0, 0, 5, 0x54]),
]);

function readAll(reader: MessageReader): number[] {
  const types: number[] = [];
  for (let f = reader.next(); f; f = reader.next()) types.push(f.type);
  return types;
}

test('typed messages split in the middle, at the end, and byte by byte come out whole', () => {
  for (const cut of [1, 3, messages.length >> 1, messages.length - 1]) {
    const reader = new MessageReader({ maxMessageBytes: 1024 });
    reader.push(messages.subarray(0, cut));
    const first = readAll(reader);
    reader.push(messages.subarray(cut));
    assert.deepEqual([...first, ...readAll(reader)], [0x5a, 0x45, 0x5a], `cut at ${cut}`);
    assert.equal(reader.buffered, 0);
  }
  const reader = new MessageReader({ maxMessageBytes: 1024 });
  const types: number[] = [];
  for (const byte of messages) {
    reader.push(Buffer.from([byte]));
    types.push(...readAll(reader));
  }
  assert.deepEqual(types, [0x5a, 0x45, 0x5a]);
});

test('an oversized frame is refused from its header, before the body arrives', () => {
  const reader = new MessageReader({ maxMessageBytes: 100 });
  reader.push(Buffer.from([0x51, 0, 0, 0x10, 0]));
  assert.throws(
    () => reader.next(),
    (e: unknown) => e instanceof PgPeerError && e.sqlState === '08P01' && /exceeds the limit of 100 bytes/.test(e.message),
  );
  const negative = new MessageReader({ maxMessageBytes: 100 });
  negative.push(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]));
  assert.throws(() => negative.next(), /invalid message length/);
});

test('startup framing: whole packets only, and the remainder is handed over', () => {
  const packet = encodeStartupMessage([
    ['user', 'me'],
    ['database', 'db'],
  ]);
  const reader = new MessageReader({ maxMessageBytes: 10240, startup: true });
  reader.push(Buffer.concat([packet, Buffer.from('rest')]));
  const frame = reader.next();
  assert.ok(frame);
  const decoded = decodeStartupPacket(frame);
  assert.equal(decoded.kind, 'startup');
  assert.equal(decoded.kind === 'startup' && decoded.params.get('database'), 'db');
  assert.equal(reader.drain().toString(), 'rest');
});

test('startup packets: duplicate keys, missing user and protocol 2 are refused with SQLSTATEs', () => {
  const frameOf = (raw: Buffer) => ({ type: -1, body: raw.subarray(4), raw });
  const dup = encodeStartupMessage([
    ['user', 'a'],
    ['user', 'b'],
  ]);
  assert.throws(
    () => decodeStartupPacket(frameOf(dup)),
    (e: unknown) => e instanceof PgPeerError && e.sqlState === '08P01',
  );
  const noUser = encodeStartupMessage([['database', 'x']]);
  assert.throws(
    () => decodeStartupPacket(frameOf(noUser)),
    (e: unknown) => e instanceof PgPeerError && e.sqlState === '28000',
  );
  const v2 = Buffer.from(encodeStartupMessage([['user', 'a']]));
  v2.writeInt32BE(2 << 16, 4);
  assert.throws(
    () => decodeStartupPacket(frameOf(v2)),
    (e: unknown) => e instanceof PgPeerError && e.sqlState === '0A000',
  );
});

test('ErrorResponse always carries S, V, C and M; NUL in a message cannot cut it short', () => {
  const raw = new PgPeerError('PG_TOO_MANY_CONNECTIONS', 'too\0many', { hint: 'raise it' }).toErrorResponse();
  const text = raw.subarray(5).toString();
  assert.equal(text, 'SFATAL\0VFATAL\0C53300\0Mtoo many\0Hraise it\0\0');
  assert.equal(raw.readInt32BE(1), raw.length - 1);
});

test('FrameBoundary finds message ends across any split', () => {
  for (let cut = 0; cut <= messages.length; cut++) {
    const boundary = new FrameBoundary();
    boundary.feed(messages.subarray(0, cut));
    boundary.feed(messages.subarray(cut));
    assert.ok(boundary.atBoundary);
  }
  const partial = new FrameBoundary();
  partial.feed(messages.subarray(0, 8));
  assert.equal(partial.atBoundary, false);
  // With stopAtBoundary it consumes exactly the rest of the current message.
  assert.equal(partial.feed(messages.subarray(8), true), 1 + messages.readInt32BE(7) - 2);
  assert.ok(partial.atBoundary);
});
