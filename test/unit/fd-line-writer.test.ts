import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FdLineWriter, LOG_BUFFER_BYTES, LOG_MAX_BACKLOG_BYTES, LOG_RETRY_MS } from '../../src/core/log/fd-line-writer.js';
import { tempDir } from '../helpers/temp-dir.js';

const line = (i: number) => `{"n":${i},"pad":"${'p'.repeat(200)}"}\n`;

/** A FIFO whose write end never blocks (EAGAIN when full) and a non-blocking reader of it. */
function stalledPipe(dir: string): { writeFd: number; readFd: number; readAll: () => string } {
  const path = join(dir, 'fifo');
  execFileSync('mkfifo', [path]);
  // O_RDWR on a FIFO opens without waiting for a reader (Linux); O_NONBLOCK makes a full pipe EAGAIN.
  const writeFd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  const readFd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const chunk = Buffer.alloc(64 * 1024);
  let text = '';
  const readAll = () => {
    for (;;) {
      try {
        const n = readSync(readFd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        text += chunk.toString('utf8', 0, n);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw error;
      }
    }
    return text;
  };
  return { writeFd, readFd, readAll };
}

test('lines reach a file in order, on flush, and the file is private (0600)', () => {
  const dir = tempDir('sidekey-log-');
  const path = join(dir.path, 'out.log');
  const writer = new FdLineWriter(path);
  const count = Math.ceil((3 * LOG_BUFFER_BYTES) / line(0).length);
  for (let i = 0; i < count; i++) writer.write(line(i));
  writer.write(`{"long":"${'é'.repeat(LOG_BUFFER_BYTES)}"}\n`);
  writer.write(line(count));
  writer.close();
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, count + 2);
  for (const [i, l] of lines.entries()) {
    const parsed = JSON.parse(l) as { n?: number; long?: string };
    if (i === count) assert.equal(parsed.long?.length, LOG_BUFFER_BYTES, 'a line longer than the buffer is written whole');
    else assert.equal(parsed.n, Math.min(i, count));
  }
  assert.equal(statSync(path).mode & 0o777, 0o600);
  dir.remove();
});

test('a reader that falls behind (EAGAIN) loses nothing: the backlog is retried in order', async () => {
  const dir = tempDir('sidekey-log-');
  const pipe = stalledPipe(dir.path);
  const writer = new FdLineWriter(pipe.writeFd);
  // Four times what the pipe holds: the writer must keep the rest, never throw or block.
  const count = Math.ceil((4 * 64 * 1024) / line(0).length);
  for (let i = 0; i < count; i++) writer.write(line(i));
  writer.flush();
  let text = '';
  const deadline = Date.now() + 5_000;
  while (text.split('\n').length <= count && Date.now() < deadline) {
    text = pipe.readAll();
    await new Promise((resolve) => setTimeout(resolve, LOG_RETRY_MS));
  }
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, count);
  for (const [i, l] of lines.entries()) assert.equal((JSON.parse(l) as { n: number }).n, i);
  assert.equal(writer.droppedBytes, 0);
  writer.close();
  closeSync(pipe.writeFd);
  closeSync(pipe.readFd);
  dir.remove();
});

test('past the backlog limit chunks are dropped, counted, and reported once the reader catches up', async () => {
  const dir = tempDir('sidekey-log-');
  const pipe = stalledPipe(dir.path);
  const writer = new FdLineWriter(pipe.writeFd);
  const count = Math.ceil((LOG_MAX_BACKLOG_BYTES + 4 * LOG_BUFFER_BYTES) / line(0).length);
  for (let i = 0; i < count; i++) writer.write(line(i));
  writer.flush();
  assert.ok(writer.droppedBytes > 0, 'memory stays bounded');
  let text = '';
  const deadline = Date.now() + 10_000;
  while (!text.includes('log output was blocked') && Date.now() < deadline) {
    text = pipe.readAll();
    await new Promise((resolve) => setTimeout(resolve, LOG_RETRY_MS));
  }
  const lines = text.trimEnd().split('\n');
  const warning = JSON.parse(lines.at(-1) as string) as { level: string; msg: string };
  assert.equal(warning.level, 'warn');
  assert.match(warning.msg, /log output was blocked: \d+ bytes of log lines were dropped/);
  // What was kept is whole lines, in order.
  const kept = lines.slice(0, -1).map((l) => (JSON.parse(l) as { n: number }).n);
  for (let i = 1; i < kept.length; i++) assert.ok((kept[i] as number) > (kept[i - 1] as number));
  writer.close();
  closeSync(pipe.writeFd);
  closeSync(pipe.readFd);
  dir.remove();
});

test('writeParts: lines of encoded parts and a tail keep their bytes and order, whole, across buffer boundaries', () => {
  const dir = tempDir('sidekey-log-');
  const path = join(dir.path, 'parts.log');
  const writer = new FdLineWriter(path);
  const head = Buffer.from('{"level":"info","host":"h\u00e9"', 'utf8');
  const body = Buffer.from(`,"pad":"${'b'.repeat(300)}"`, 'latin1');
  const expected: string[] = [];
  // Enough lines to cross the buffer several times, with string lines and non-ASCII tails among them.
  for (let i = 0; expected.join('').length < 3 * LOG_BUFFER_BYTES; i++) {
    if (i % 7 === 3) {
      writer.write(line(i));
      expected.push(line(i));
    } else {
      const tail = i % 5 === 0 ? `,"ms":${i},"msg":"caf\u00e9 \u2028"}\n` : `,"ms":${i}}\n`;
      writer.writeParts(head, body, tail);
      expected.push(`${head.toString('utf8')}${body.toString('latin1')}${tail}`);
    }
  }
  // A tail longer than what is copied char by char, and a line larger than the whole buffer.
  const longTail = `,"t":"${'t'.repeat(100)}"}\n`;
  writer.writeParts(head, body, longTail);
  expected.push(`${head.toString('utf8')}${body.toString('latin1')}${longTail}`);
  const huge = Buffer.from('h'.repeat(LOG_BUFFER_BYTES + 10), 'latin1');
  writer.writeParts(huge, body, '}\n');
  expected.push(`${huge.toString('latin1')}${body.toString('latin1')}}\n`);
  writer.close();
  assert.equal(readFileSync(path, 'utf8'), expected.join(''));
  dir.remove();
});
