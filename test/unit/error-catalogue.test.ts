/**
 * The error catalogue is one: every code in it is raised somewhere in src/, docs/errors.md lists
 * exactly the catalogue's codes with each protocol's form, and only the protocol writers build an
 * error body.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, type ErrorKind } from '../../src/core/errors.js';
import { PgPeerError, toPeerError } from '../../src/core/pg/pg-peer-error.js';
import { errorAnswer, errorAnswerOf } from '../../src/net/error-reply.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const SRC = sources(join(ROOT, 'src')).map((file) => ({ file: relative(ROOT, file), text: readFileSync(file, 'utf8') }));

test('every code is raised somewhere outside the catalogue', () => {
  const text = SRC.filter((s) => s.file !== join('src', 'core', 'errors.ts'))
    .map((s) => s.text)
    .join('\n');
  const unused = (Object.keys(ErrorCodes) as ErrorKind[]).filter((kind) => !text.includes(`'${kind}'`));
  assert.deepEqual(unused, [], 'codes nothing raises: remove them or raise them');
});

test('docs/errors.md lists every code with its status, AWS code and SQLSTATE, and nothing else', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = new Map(
    [...doc.matchAll(/^\| `(SK_[A-Z_]+)` \| (\d{3}) \| `(\w+)` \| ([0-9A-Z]{5}|-) \|/gm)].map((m) => [
      m[1] as string,
      `${m[2]} ${m[3]} ${m[4]}`,
    ]),
  );
  const catalogue = new Map(
    Object.values(ErrorCodes).map((e) => [e.code as string, `${e.status} ${e.aws} ${'sqlState' in e ? e.sqlState : '-'}`]),
  );
  assert.deepEqual([...rows.keys()].sort(), [...catalogue.keys()].sort());
  for (const [code, forms] of catalogue) assert.equal(rows.get(code), forms, `${code}'s forms in docs/errors.md`);
});

test('only the protocol writers build an error body or an ErrorResponse', () => {
  const writers = new Set([join('src', 'net', 'error-reply.ts'), join('src', 'core', 'pg', 'pg-peer-error.ts')]);
  const builders = SRC.filter((s) => !writers.has(s.file) && /\bCode: (?!'Success')|encodeErrorResponse\(/.test(s.text)).map((s) => s.file);
  // backend-messages.ts defines the encoder; IMDS's own credentials document carries Code: 'Success'.
  assert.deepEqual(
    builders.filter((f) => f !== join('src', 'core', 'pg', 'backend-messages.ts')),
    [],
    'build the answer with net/error-reply.ts or PgPeerError',
  );
});

test('each protocol form comes from the entry, and an unexposed error says nothing of itself', () => {
  assert.deepEqual(errorAnswer('RATE_LIMITED', 'slow down', 'aws'), { status: 429, body: { Code: 'Throttling', Message: 'slow down' } });
  assert.deepEqual(errorAnswer('RATE_LIMITED', 'slow down'), { status: 429, body: { Code: 'SK_RATE_LIMITED', Message: 'slow down' } });
  const shown = errorAnswerOf(new PgPeerError('PG_AUTH_REFUSED', 'shown'));
  assert.deepEqual(shown.body, { Code: 'SK_PG_AUTH_REFUSED', Message: 'shown' });
  const internal = errorAnswerOf(new Error('/etc/secret-path is missing'), 'aws');
  assert.deepEqual(internal, {
    kind: 'INTERNAL',
    status: 500,
    body: { Code: 'InternalError', Message: 'internal error; the daemon log has the details' },
  });
  assert.equal(new PgPeerError('PG_TOO_MANY_CONNECTIONS', 'full').sqlState, '53300');
  assert.equal(new PgPeerError('PG_UPSTREAM_REFUSED', 'no', { sqlState: '3D000' }).sqlState, '3D000');
  const peer = toPeerError(new Error('/etc/secret-path is missing'));
  assert.equal(peer.sqlState, 'XX000');
  assert.doesNotMatch(peer.message, /secret-path/);
});
