/**
 * The error catalogue is one: every code in it is raised somewhere in src/, and docs/errors.md
 * lists exactly the catalogue's codes, each with its HTTP status.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, type ErrorKind } from '../../src/core/errors.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test('every code is raised somewhere outside the catalogue', () => {
  const text = sources(join(ROOT, 'src'))
    .filter((file) => !file.endsWith(join('core', 'errors.ts')))
    .map((file) => readFileSync(file, 'utf8'))
    .join('\n');
  const unused = (Object.keys(ErrorCodes) as ErrorKind[]).filter((kind) => !text.includes(`'${kind}'`));
  assert.deepEqual(unused, [], 'codes nothing raises: remove them or raise them');
});

test('docs/errors.md lists every code with its status, and nothing else', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = new Map([...doc.matchAll(/^\| `(SK_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1] as string, Number(m[2])]));
  const catalogue = new Map(Object.values(ErrorCodes).map((e) => [e.code as string, e.status as number]));
  assert.deepEqual([...rows.keys()].sort(), [...catalogue.keys()].sort());
  for (const [code, status] of catalogue) assert.equal(rows.get(code), status, `${code}'s status in docs/errors.md`);
});
