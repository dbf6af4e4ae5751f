import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INTERN_SLOTS, Latin1Intern, MAX_INTERNED_BYTES } from '../../src/imds-guard/latin1-intern.js';

test("the same bytes give the same string object; other bytes give their own string, never a neighbour's", () => {
  const intern = new Latin1Intern();
  const a = Buffer.from('GET /latest/meta-data/instance-id HTTP/1.1');
  const b = Buffer.from('xx/latest/meta-data/instance-id yy');
  const first = intern.text(a, 4, 33);
  assert.equal(first, '/latest/meta-data/instance-id');
  assert.equal(intern.text(b, 2, 31), first);
  assert.ok(Object.is(intern.text(b, 2, 31), first));
  // Many distinct runs of one length share slots: each still reads back exactly.
  const seen = new Map<string, string>();
  for (let i = 0; i < INTERN_SLOTS * 4; i++) {
    const text = `/p/${String(i).padStart(5, '0')}\u00e9`;
    const bytes = Buffer.from(`  ${text}  `, 'latin1');
    const got = intern.text(bytes, 2, bytes.length - 2);
    assert.equal(got, text);
    seen.set(text, got);
  }
  for (const [text] of seen) {
    const bytes = Buffer.from(text, 'latin1');
    assert.equal(intern.text(bytes, 0, bytes.length), text);
  }
  // Differing only in the bytes the slot is not picked by.
  const x = Buffer.from('/aaaa-one/zz');
  const y = Buffer.from('/bbbb-one/zz');
  assert.equal(intern.text(x, 0, x.length), '/aaaa-one/zz');
  assert.equal(intern.text(y, 0, y.length), '/bbbb-one/zz');
  assert.equal(intern.text(x, 0, x.length), '/aaaa-one/zz');
});

test('empty, one-byte and over-long runs read back exactly', () => {
  const intern = new Latin1Intern();
  const bytes = Buffer.from('a/b');
  assert.equal(intern.text(bytes, 1, 1), '');
  assert.equal(intern.text(bytes, 0, 1), 'a');
  assert.equal(intern.text(bytes, 1, 2), '/');
  assert.equal(intern.text(bytes, 2, 3), 'b');
  const long = Buffer.from(`/${'x'.repeat(MAX_INTERNED_BYTES)}`);
  assert.equal(intern.text(long, 0, long.length), long.toString('latin1'));
  long[5] = 0x79;
  assert.equal(intern.text(long, 0, long.length), long.toString('latin1'));
});

test('lastTrimmed is String.prototype.trim of the string returned last, kept or not', () => {
  const intern = new Latin1Intern();
  for (const value of [' \t169.254.169.254\u00a0 ', 'plain', '', '\u00a0\u00a0', ` ${'u'.repeat(MAX_INTERNED_BYTES + 5)}\t`]) {
    const bytes = Buffer.from(`Host:${value}\r\n`, 'latin1');
    for (let round = 0; round < 2; round++) {
      const text = intern.text(bytes, 5, bytes.length - 2);
      assert.equal(text, value);
      assert.equal(intern.lastTrimmed(), value.trim());
    }
  }
});
