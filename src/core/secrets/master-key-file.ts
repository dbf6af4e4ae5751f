/**
 * The local master key file: one key per line, `ID:BASE64` (32 bytes), `#` comments, newest last.
 * Created on first use with mode 0600 in a 0700 directory; refused when group or others can read
 * or write it, as ssh refuses a readable private key.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { refuseLooseMode } from '../config/private-file-mode.js';
import { SidekeyError } from '../errors.js';
import { DATA_KEY_BYTES } from './payload-envelope.js';

export const MASTER_KEY_FILE_MODE = 0o600;
export const MASTER_KEY_DIR_MODE = 0o700;
/** The largest key file read (thousands of keys; a rotation a day for years). */
export const MAX_KEY_FILE_BYTES = 1024 * 1024; // 1 MiB
const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;

export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

function newKeyLine(): { line: string; id: string } {
  const id = `mk-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`;
  return { id, line: `${id}:${randomBytes(DATA_KEY_BYTES).toString('base64')}\n` };
}

/** Parses key file text; `source` names the file (or config key) in messages. */
export function parseMasterKeys(text: string, source: string): MasterKey[] {
  const keys: MasterKey[] = [];
  const ids = new Set<string>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const id = colon > 0 ? line.slice(0, colon) : '';
    const key = Buffer.from(colon > 0 ? line.slice(colon + 1) : '', 'base64');
    if (!KEY_ID.test(id) || key.length !== DATA_KEY_BYTES) {
      throw new SidekeyError(
        'KEYRING_FAILED',
        `${source} line ${index + 1}: expected ID:BASE64 with an id of [A-Za-z0-9_.-] and a ${DATA_KEY_BYTES}-byte key`,
      );
    }
    if (ids.has(id)) throw new SidekeyError('KEYRING_FAILED', `${source} line ${index + 1}: duplicate key id ${id}`);
    ids.add(id);
    keys.push({ id, key });
  });
  if (keys.length === 0) throw new SidekeyError('KEYRING_FAILED', `${source} holds no master key`);
  return keys;
}

/** Reads the key file, creating it (with one new key) when missing. */
export function loadMasterKeyFile(path: string, create = true): MasterKey[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !create) {
      throw new SidekeyError('KEYRING_FAILED', `cannot open master key file ${path} (${(error as NodeJS.ErrnoException).code})`, {
        cause: error,
      });
    }
    mkdirSync(dirname(path), { recursive: true, mode: MASTER_KEY_DIR_MODE });
    try {
      const created = openSync(path, 'wx', MASTER_KEY_FILE_MODE);
      writeSync(created, `# sidekey master keys: ID:BASE64, newest last. Keep this file private (0600).\n${newKeyLine().line}`);
      closeSync(created);
    } catch (createError) {
      // Another process created it first: read theirs.
      if ((createError as NodeJS.ErrnoException).code !== 'EEXIST') throw createError;
    }
    fd = openSync(path, 'r');
  }
  try {
    const stat = fstatSync(fd);
    refuseLooseMode('master key file', path, stat.mode);
    if (stat.size > MAX_KEY_FILE_BYTES)
      throw new SidekeyError('KEYRING_FAILED', `master key file ${path} is larger than ${MAX_KEY_FILE_BYTES} bytes`);
    return parseMasterKeys(readFileSync(fd, 'utf8'), path);
  } finally {
    closeSync(fd);
  }
}

/** Appends a new master key (which becomes the newest) and returns its id. */
export function addMasterKey(path: string): string {
  loadMasterKeyFile(path); // creates it, and checks its permissions
  const { id, line } = newKeyLine();
  appendFileSync(path, line, { mode: MASTER_KEY_FILE_MODE });
  return id;
}
