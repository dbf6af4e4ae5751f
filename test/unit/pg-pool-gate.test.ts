import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PoolGate } from '../../src/core/pg/pool-gate.js';

function msg(type: string, body: Buffer | string = ''): Buffer {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  const out = Buffer.alloc(5 + payload.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + payload.length, 1);
  payload.copy(out, 5);
  return out;
}
const query = (sql: string) => msg('Q', `${sql}\0`);
const ready = (status: 'I' | 'T' | 'E') => msg('Z', status);
const X = msg('X');

/** Feeds bytes one at a time (the worst split). */
function bytewise(feed: (chunk: Buffer) => number | undefined, data: Buffer): number {
  let stop = -1;
  for (let i = 0; i < data.length; i++) {
    const at = feed(data.subarray(i, i + 1));
    if (typeof at === 'number' && at >= 0 && stop < 0) stop = i + at;
  }
  return stop;
}

test('Terminate after an answered query with status idle: reusable; the Terminate offset is reported', () => {
  const gate = new PoolGate();
  assert.equal(gate.client(query('select 1')), -1);
  gate.server(Buffer.concat([msg('T', 'x'), msg('D', 'y'), msg('C', 'SELECT 1\0'), ready('I')]));
  assert.equal(gate.reusable, false, 'no Terminate yet');
  assert.equal(gate.client(X), 0);
  assert.equal(gate.terminated, true);
  assert.equal(gate.reusable, true);
});

test('split anywhere: the same verdicts byte by byte', () => {
  const gate = new PoolGate();
  const clientBytes = Buffer.concat([query('select 1'), X]);
  const serverBytes = Buffer.concat([msg('C', 'SELECT 1\0'), ready('I')]);
  bytewise((c) => gate.client(c), clientBytes.subarray(0, clientBytes.length - 5));
  bytewise((c) => {
    gate.server(c);
    return undefined;
  }, serverBytes);
  const stop = bytewise((c) => gate.client(c), X);
  assert.equal(stop, 0);
  assert.equal(gate.terminated, true);
  assert.equal(gate.reusable, true);
});

test('a Terminate inside a chunk is found at its boundary', () => {
  const gate = new PoolGate();
  gate.client(query('select 1'));
  gate.server(ready('I'));
  const q = query('select 2');
  // A query with an unanswered Terminate right behind it: found, but the query is pending.
  assert.equal(gate.client(Buffer.concat([q, X])), q.length);
  assert.equal(gate.reusable, false);
});

test('not reusable: in a transaction, failed transaction, after an error, COPY, unsynced extended protocol, mid-message', () => {
  type Step = readonly ['client' | 'server', Buffer];
  const cases: Array<[string, Step[]]> = [
    [
      'in transaction',
      [
        ['client', query('begin')],
        ['server', ready('T')],
      ],
    ],
    [
      'failed transaction',
      [
        ['client', query('x')],
        ['server', ready('E')],
      ],
    ],
    [
      'error then idle',
      [
        ['client', query('select 1/0')],
        ['server', Buffer.concat([msg('E', 'SERROR\0\0'), ready('I')])],
      ],
    ],
    [
      'copy',
      [
        ['client', query('copy t to stdout')],
        ['server', Buffer.concat([msg('H', '\0\0\0'), msg('d', 'a'), msg('c'), msg('C', 'COPY 1\0'), ready('I')])],
      ],
    ],
    [
      'parse without sync',
      [
        ['client', query('select 1')],
        ['server', ready('I')],
        ['client', msg('P', '\0select 1\0\0\0')],
      ],
    ],
    [
      'notification',
      [
        ['client', query('listen a')],
        ['server', Buffer.concat([msg('C', 'LISTEN\0'), ready('I'), msg('A', 'xxxx a\0\0')])],
      ],
    ],
    [
      'server mid-message',
      [
        ['client', query('select 1')],
        ['server', ready('I')],
        ['server', msg('N', 'SNOTICE\0\0').subarray(0, 3)],
      ],
    ],
  ];
  for (const [name, steps] of cases) {
    const gate = new PoolGate();
    for (const [side, bytes] of steps) {
      if (side === 'client') gate.client(bytes);
      else gate.server(bytes);
    }
    gate.client(X);
    assert.equal(gate.reusable, false, name);
  }
});

test('extended protocol answered up to its Sync is reusable; a pipelined second Sync not yet answered is not', () => {
  const ext = Buffer.concat([msg('P', '\0select 1\0\0\0'), msg('B', '\0\0\0\0\0\0\0\0'), msg('E', '\0\0\0\0\0'), msg('S')]);
  const answered = new PoolGate();
  answered.client(ext);
  answered.server(Buffer.concat([msg('1'), msg('2'), msg('D', 'x'), msg('C', 'SELECT 1\0'), ready('I')]));
  answered.client(X);
  assert.equal(answered.reusable, true);
  const pipelined = new PoolGate();
  pipelined.client(Buffer.concat([ext, ext]));
  pipelined.server(ready('I'));
  pipelined.client(X);
  assert.equal(pipelined.reusable, false);
});
