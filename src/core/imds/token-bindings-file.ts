/**
 * The guard's IMDSv2 token bindings kept across a restart, in `imds.tokens_file`: SDKs hold a token
 * for its whole TTL (up to six hours), and a restart that forgot every binding would answer their
 * next per-caller request 401 (Go v1 and older JS v3 then fail; Ruby stops refreshing for minutes).
 * The file holds token hashes with the address and service each was issued to and its expiry,
 * never a token; it is written 0600 and atomically, and refused when group or others can read it.
 * A binding read back still only serves the same address while it maps to the same service.
 */
import { statSync } from 'node:fs';
import { refuseLooseMode } from '../config/private-file-mode.js';
import { readRegularFile } from '../config/read-regular-file.js';
import { writePrivateFile } from '../config/write-private-file.js';
import { SidekeyError } from '../errors.js';
import type { TokenBinding, TokenBindings } from './token-bindings.js';

/** Largest bindings file read back, in bytes (65,536 bindings at about 120 bytes each). */
export const MAX_TOKENS_FILE_BYTES = 16 * 1024 * 1024;
const FORMAT_VERSION = 1;

interface SavedBinding {
  readonly hash: string;
  readonly address: string;
  readonly service?: string;
  readonly expiresAt: number;
}

function isSaved(value: unknown): value is SavedBinding {
  const v = value as Partial<SavedBinding> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.hash === 'string' &&
    typeof v.address === 'string' &&
    (v.service === undefined || typeof v.service === 'string') &&
    typeof v.expiresAt === 'number'
  );
}

/** Restores the bindings saved in `file`; returns how many. A missing file holds none. */
export function loadTokenBindings(file: string, bindings: TokenBindings): number {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new SidekeyError('CONFIG_UNREADABLE', `imds.tokens_file ${file} cannot be read`, { cause: error });
  }
  refuseLooseMode('imds.tokens_file', file, mode);
  let saved: unknown;
  try {
    saved = JSON.parse(readRegularFile(file, MAX_TOKENS_FILE_BYTES).toString('utf8'));
  } catch (error) {
    throw new SidekeyError(
      'CONFIG_UNREADABLE',
      `imds.tokens_file ${file} is not a bindings file sidekey wrote (delete it to start afresh)`,
      {
        cause: error,
      },
    );
  }
  const list = (saved as { version?: unknown; bindings?: unknown }).bindings;
  if ((saved as { version?: unknown }).version !== FORMAT_VERSION || !Array.isArray(list)) {
    throw new SidekeyError(
      'CONFIG_UNREADABLE',
      `imds.tokens_file ${file} is not a version ${FORMAT_VERSION} bindings file (delete it to start afresh)`,
    );
  }
  let restored = 0;
  for (const entry of list) {
    if (!isSaved(entry)) continue;
    const binding: TokenBinding = { address: entry.address, service: entry.service, expiresAt: entry.expiresAt };
    bindings.restore(entry.hash, binding);
    restored += 1;
  }
  return restored;
}

export function saveTokenBindings(file: string, bindings: TokenBindings): void {
  const list: SavedBinding[] = bindings
    .entries()
    .map(([hash, b]) => ({ hash, address: b.address, ...(b.service === undefined ? {} : { service: b.service }), expiresAt: b.expiresAt }));
  writePrivateFile(file, JSON.stringify({ version: FORMAT_VERSION, bindings: list }));
}
