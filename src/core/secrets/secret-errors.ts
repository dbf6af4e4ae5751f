/** Constructors for the secrets store's errors, so every message has the same shape and no secret. */

import { nameProblem } from '../config/validators.js';
import { SidekeyError } from '../errors.js';
import { MAX_SERIAL } from './secret-limits.js';

/** `app/name` or `app/name#serial`, as every message names a version. */
export function describeVersion(app: string, name: string, serial?: number): string {
  return serial === undefined ? `${app}/${name}` : `${app}/${name}#${serial}`;
}

export function notFound(app: string, name: string, serial?: number): SidekeyError {
  const what = serial === undefined ? `no secret named "${name}"` : `secret "${name}" has no serial ${serial}`;
  return new SidekeyError('SECRET_NOT_FOUND', `${what} in application "${app}"`, { details: { app, name, serial } });
}

export function revoked(app: string, name: string, serial: number, latest: boolean): SidekeyError {
  const message = latest
    ? `every version of secret "${name}" in application "${app}" is revoked (latest serial ${serial})`
    : `serial ${serial} of secret "${name}" in application "${app}" is revoked`;
  return new SidekeyError('SECRET_REVOKED', message, { details: { app, name, serial } });
}

export function conflict(app: string, name: string, expected: number, current: number): SidekeyError {
  return new SidekeyError(
    'SECRET_CONFLICT',
    `check-and-set failed for secret "${name}" in application "${app}": expected current serial ${expected}, it is ${current}`,
    { details: { app, name, expected, current } },
  );
}

export function integrity(app: string, name: string, serial: number, why: string, cause?: unknown): SidekeyError {
  return new SidekeyError(
    'SECRET_INTEGRITY',
    `${describeVersion(app, name, serial)} failed its integrity check (${why}): the stored ciphertext was altered or moved from another name or serial`,
    { cause, details: { app, name, serial } },
  );
}

/** The longest secret name, in characters. */
export const MAX_SECRET_NAME_LENGTH = 255;
const SECRET_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
export const SECRET_NAME_EXPECTED = `letters of either case, digits, ".", "_" and "-", starting with a letter, digit or "_", at most ${MAX_SECRET_NAME_LENGTH} characters`;

/**
 * Says which rule a secret name breaks, or undefined. Names as ecs-secrets users write them
 * (`com.foo.app1.mysql`, `DB_PASSWORD`) are accepted; only URL-unreserved characters are, so a
 * name means the same encoded or not, and no separator, `..` or control character gets through.
 */
export function secretNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_SECRET_NAME_LENGTH) return `must be at most ${MAX_SECRET_NAME_LENGTH} characters (it has ${name.length})`;
  if (name.includes('..') || name.includes('/') || name.includes('\\')) return 'must not contain path traversal (/, \\ or ..)';
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return 'must not contain control characters';
  }
  if (!SECRET_NAME.test(name)) return `may contain only ${SECRET_NAME_EXPECTED}`;
  return undefined;
}

/** Throws NAME_INVALID when `value` is not a valid secret or application name. */
export function checkName(value: string, what: 'secret name' | 'application name'): string {
  const problem = what === 'secret name' ? secretNameProblem(value) : nameProblem(value);
  if (problem) {
    const shown = JSON.stringify(value.length > 70 ? `${value.slice(0, 70)}...` : value);
    throw new SidekeyError('NAME_INVALID', `invalid ${what} ${shown}: ${problem}`);
  }
  return value;
}

/** Parses a serial given as text (a URL segment or a flag): a positive integer, no sign or zeros. */
export function parseSerial(text: string, what = 'serial'): number {
  if (!/^[1-9][0-9]{0,15}$/.test(text) || Number(text) > MAX_SERIAL) {
    const shown = JSON.stringify(text.length > 20 ? `${text.slice(0, 20)}...` : text);
    throw new SidekeyError('BAD_REQUEST', `invalid ${what} ${shown}: expected a positive integer from 1 to ${MAX_SERIAL}`);
  }
  return Number(text);
}

/** Checks a serial given as a JSON number; `allowZero` for check-and-set's "must not exist yet". */
export function checkSerialNumber(value: unknown, what: string, allowZero = false): number {
  const min = allowZero ? 0 : 1;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new SidekeyError('BAD_REQUEST', `${what} must be an integer from ${min} to ${MAX_SERIAL}`);
  }
  return value;
}
