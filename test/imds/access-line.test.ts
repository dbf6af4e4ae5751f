/**
 * The guard's hand-written access line is byte for byte what pino writes for the same fields, is
 * used only where the probe proves it, and keeps the daemon's redaction: any logger feature or
 * redaction that would change a line sends lines back through pino.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type DestinationStream, pino } from 'pino';
import { FdLineWriter } from '../../src/core/log/fd-line-writer.js';
import { createLogger, type Logger, REDACTED } from '../../src/core/log/logger.js';
import { AccessLine, type AccessLineFields, TIME_REREAD_MS } from '../../src/imds-guard/access-line.js';
import { tempDir } from '../helpers/temp-dir.js';

/** A daemon logger as `sidekey serve` builds it (front child, access-log redaction) on `destination`. */
function guardLoggerOn(destination: DestinationStream): Logger {
  const root = createLogger({ level: 'info', destination });
  return root.child({ front: 'imds' }).child({}, { redact: { paths: ['token', 'authorization'], censor: REDACTED } });
}

/** A daemon logger writing into an array, as the guard front gets it. */
function guardLogger(): { logger: Logger; written: string[] } {
  const written: string[] = [];
  return { logger: guardLoggerOn({ write: (line: string) => written.push(line) }), written };
}

/**
 * A daemon logger on the daemon's own buffered destination, writing to a file: the hand-written
 * line then goes in as encoded parts (FdLineWriter.writeParts). `lines` flushes and gives the
 * lines written since the last call.
 */
function bufferedGuardLogger(dir: string): { logger: Logger; lines: () => string[]; close: () => void } {
  const file = join(dir, 'guard.log');
  const writer = new FdLineWriter(file);
  let read = 0;
  const lines = () => {
    writer.flushSync();
    const text = readFileSync(file, 'latin1').slice(read);
    read += text.length;
    return text.split('\n').filter((line) => line !== '');
  };
  return { logger: guardLoggerOn(writer), lines, close: () => writer.close() };
}

const base: AccessLineFields = {
  access: 'imds',
  method: 'GET',
  target: '/latest/meta-data/iam/security-credentials/role',
  path: '/latest/meta-data/iam/security-credentials/role',
  host: '169.254.169.254',
  ua: 'aws-sdk-js/3.0 md/nodejs#20',
  remote: '::ffff:172.17.0.5',
  status: 403,
  decision: 'deny',
  rule: 'floor:instance-credentials',
  caller: undefined,
  cache: undefined,
  detail: undefined,
  ms: 0.012,
};

test('the hand-written line is exactly the line pino writes, at info and warn, with fields absent or present', () => {
  const { logger, written } = guardLogger();
  const line = AccessLine.forLogger(logger);
  assert.ok(line, 'the daemon logger allows the hand-written line');
  const variants: AccessLineFields[] = [
    base,
    { ...base, method: undefined, target: undefined, path: undefined, host: undefined, ua: undefined, remote: undefined },
    { ...base, status: 200, decision: 'allow', rule: 'default:allow-rest', cache: 'hit', ms: 1.5 },
    { ...base, status: 200, decision: 'caller', rule: 'caller:web', caller: 'web', ms: 0 },
    { ...base, status: 502, decision: 'error', rule: 'upstream', detail: 'connect ECONNREFUSED 127.0.0.1:9', ms: 2001.25 },
  ];
  for (const fields of variants) {
    for (const level of ['info', 'warn'] as const) {
      written.length = 0;
      assert.equal(line.write(level, fields), true);
      logger[level](fields, AccessLine.MESSAGE);
      assert.equal(written.length, 2);
      const [mine, pinos] = written as [string, string];
      // Same millisecond or not, the lines differ at most in the time field.
      const untimed = (text: string) => text.replace(/"time":"[^"]*"/, '"time":"T"');
      assert.equal(untimed(mine), untimed(pinos), `${level} ${JSON.stringify(fields)}`);
      assert.equal(JSON.parse(mine).msg, 'imds request');
    }
  }
});

/** Lines that are the same but for the time field (the two may fall in different milliseconds). */
const untimed = (text: string) => text.replace(/"time":"[^"]*"/, '"time":"T"');

const denied = { status: 403, decision: 'deny', rule: 'floor:instance-credentials', path: base.path };
const cached = { status: 200, decision: 'allow', rule: 'default:allow-rest', path: '/latest/meta-data/', cache: 'hit', caller: '' };
/** Requests in an order that changes one part at a time, then several, then returns to the first. */
const REQUESTS: [AccessLineFields, typeof denied | typeof cached][] = [
  [base, denied],
  [{ ...base, target: '/latest/meta-data/iam/security-credentials/other', remote: '10.0.0.1' }, denied],
  [{ ...base, remote: '10.0.0.1', ua: undefined }, denied],
  [
    {
      ...base,
      method: 'HEAD',
      target: '/latest/meta-data/',
      path: '/latest/meta-data/',
      status: 200,
      decision: 'allow',
      rule: 'default:allow-rest',
      cache: 'hit',
    },
    cached,
  ],
  [base, denied],
  [{ ...base, host: undefined, method: undefined, target: undefined, remote: undefined }, denied],
  [{ ...base, ua: 'curl/8.5.0' }, denied],
  [{ ...base, ms: 12.5 }, denied],
  [base, denied],
];

/** Writes each request with writeRequest and then through pino itself; `lines` gives the two lines written. */
function assertSameAsPino(logger: Logger, lines: () => string[]): void {
  const line = AccessLine.forLogger(logger);
  assert.ok(line);
  for (const level of ['info', 'warn', 'info'] as const) {
    for (const [fields, reply] of REQUESTS) {
      lines();
      assert.equal(line.writeRequest(level, fields.method, fields.target, fields.host, fields.ua, fields.remote, reply, fields.ms), true);
      logger[level]({ ...fields, path: reply.path, status: reply.status, decision: reply.decision, rule: reply.rule }, AccessLine.MESSAGE);
      const [mine, pinos, ...more] = lines();
      assert.deepEqual(more, []);
      assert.equal(untimed(mine as string), untimed(pinos as string), `${level} ${JSON.stringify(fields)}`);
    }
    // Durations, each twice (line endings are made once per duration below a millisecond), and
    // some not rounded to the microsecond as record rounds them.
    for (const ms of [0, 0.001, 0.007, 0.012, 0.5, 0.999, 1, 1.234, 2001.25, 0.0071, 1e-7, 0.007, 0.001, 0.999, 0.0071]) {
      lines();
      assert.equal(line.writeRequest(level, base.method, base.target, base.host, base.ua, base.remote, denied, ms), true);
      logger[level](
        { ...base, ms, path: denied.path, status: denied.status, decision: denied.decision, rule: denied.rule },
        AccessLine.MESSAGE,
      );
      const [mine, pinos] = lines();
      assert.equal(untimed(mine as string), untimed(pinos as string), `${level} ms ${ms}`);
    }
    // With a monotonic reading, the time field is read again only once that reading has moved a
    // millisecond: within it lines keep the time they had, after it they take the new time.
    const clocked = AccessLine.forLogger(logger);
    assert.ok(clocked);
    const timeOf = (text: string | undefined) => /"time":"([^"]*)"/.exec(text ?? '')?.[1];
    lines();
    assert.equal(clocked.writeRequest(level, 'GET', '/a', 'h', 'u', 'r', denied, 0.001, 1000), true);
    const [first] = lines();
    const wait = Date.now() + 3;
    while (Date.now() < wait) {
      // let the wall clock move on a few milliseconds
    }
    assert.equal(clocked.writeRequest(level, 'GET', '/a', 'h', 'u', 'r', denied, 0.001, 1000 + TIME_REREAD_MS / 2), true);
    const [same] = lines();
    assert.equal(timeOf(same), timeOf(first), 'within TIME_REREAD_MS of the monotonic clock the time field is reused');
    assert.equal(clocked.writeRequest(level, 'GET', '/a', 'h', 'u', 'r', denied, 0.001, 1000 + TIME_REREAD_MS), true);
    const [moved] = lines();
    assert.ok((timeOf(moved) as string) > (timeOf(first) as string), 'once the monotonic clock moved on, the time is read again');
    assert.equal(untimed(moved as string), untimed(first as string));
  }
}

test('writeRequest (the per-request path, reusing the reply and peer parts) writes the same lines', () => {
  const { logger, written } = guardLogger();
  assertSameAsPino(logger, () => written.splice(0));
  const line = AccessLine.forLogger(logger);
  assert.ok(line);
  assert.equal(line.writeRequest('info', 'GET', '/a', undefined, undefined, '127.0.0.1', { ...denied, rule: 'a"b' }, 0), false);
  assert.equal(line.writeRequest('info', 'GET', '/a\\b', undefined, undefined, '127.0.0.1', denied, 0), false);
  assert.equal(line.writeRequest('info', 'GET', '/a', 'h\u00e9', undefined, '127.0.0.1', denied, 0), false);
  assert.equal(line.writeRequest('info', 'GET', '/a', undefined, 'a"b', '127.0.0.1', denied, 0), false);
  assert.equal(line.writeRequest('info', 'G\u0000T', '/a', undefined, undefined, '127.0.0.1', denied, 0), false);
  // A refused value does not stick: the next plain line is written whole.
  written.length = 0;
  assert.equal(line.writeRequest('info', 'GET', '/a', 'h', 'u', '127.0.0.1', denied, 0), true);
  assert.match(written[0] as string, /"method":"GET","target":"\/a","path":"[^"]+","host":"h","ua":"u","remote":"127\.0\.0\.1"/);
});

test("on the daemon's buffered destination (lines written as encoded parts) writeRequest writes the bytes pino writes", () => {
  const dir = tempDir();
  const { logger, lines, close } = bufferedGuardLogger(dir.path);
  try {
    assertSameAsPino(logger, lines);
    // After a refused value, the next line carries the new values, not the ones encoded before.
    const line = AccessLine.forLogger(logger);
    assert.ok(line);
    assert.equal(line.writeRequest('info', 'GET', '/a', 'h', 'u', '10.0.0.9', denied, 0.5), true);
    assert.equal(line.writeRequest('info', 'GET', '/b"', 'h', 'u', '10.0.0.9', denied, 0.5), false);
    assert.equal(line.writeRequest('info', 'GET', '/b', 'h2', 'u', '10.0.0.9', denied, 0.25), true);
    const [first, second, ...more] = lines();
    assert.deepEqual(more, []);
    assert.match(first as string, /"target":"\/a","path":"[^"]+","host":"h","ua":"u","remote":"10\.0\.0\.9".*"ms":0\.5,/);
    assert.match(second as string, /"target":"\/b","path":"[^"]+","host":"h2","ua":"u","remote":"10\.0\.0\.9".*"ms":0\.25,/);
  } finally {
    close();
    dir.remove();
  }
});

test('values that need JSON escaping are left to pino (write returns false, nothing written)', () => {
  const { logger, written } = guardLogger();
  const line = AccessLine.forLogger(logger);
  assert.ok(line);
  for (const target of ['/a"b', '/a\\b', '/a\u0001b', '/caf\u00e9', '/\u2028']) {
    assert.equal(line.write('info', { ...base, target }), false, JSON.stringify(target));
  }
  assert.equal(line.write('info', { ...base, ua: 'x"y' }), false);
  assert.deepEqual(written, []);
});

test('a redaction, mixin, hook or metadata stream that could change a line sends lines through pino', () => {
  const sink = { write: () => {} };
  const redacting = createLogger({ destination: sink }).child({}, { redact: { paths: ['ua'], censor: REDACTED } });
  assert.equal(AccessLine.forLogger(redacting), undefined, 'a redacted access field');
  const serializing = pino({ serializers: { target: () => 'x' } }, sink);
  assert.equal(AccessLine.forLogger(serializing), undefined, 'a serializer on an access field');
  assert.equal(AccessLine.forLogger(pino({ mixin: () => ({ a: 1 }) }, sink)), undefined, 'mixin');
  assert.equal(AccessLine.forLogger(pino({ hooks: { streamWrite: (s) => s } }, sink)), undefined, 'stream-write hook');
  assert.equal(AccessLine.forLogger(pino({ msgPrefix: '[x] ' }, sink)), undefined, 'message prefix');
  assert.equal(AccessLine.forLogger(pino({ nestedKey: 'payload' }, sink)), undefined, 'nested key');
  const multistream = pino({}, pino.multistream([{ stream: sink }]));
  assert.equal(AccessLine.forLogger(multistream), undefined, 'a stream that wants metadata');
  assert.ok(AccessLine.forLogger(pino({}, sink)), 'a plain pino logger is fine');
});
