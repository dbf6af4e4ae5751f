/**
 * Value rules shared by every config section and CLI flag. Names follow one set of rules:
 * lowercase letters, digits and hyphens, starting and ending alphanumeric, at most 63 characters.
 */
import { isIP } from 'node:net';
import { int, type Schema, str } from './schema.js';

export const MAX_NAME_LENGTH = 63;
/** Shortest accepted caller token: 32 characters (`sidekey token` makes 43, `openssl rand -hex 16` makes 32). */
export const MIN_TOKEN_LENGTH = 32;
/** Longest accepted token (tokens are hashed, but a bound keeps config and headers sane). */
export const MAX_TOKEN_LENGTH = 4096;
/** STS AssumeRole's own bounds for DurationSeconds. */
export const MIN_SESSION_SECONDS = 900;
export const MAX_SESSION_SECONDS = 43200;

const NAME = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Says which rule a name breaks, or undefined when it is valid. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters (it has ${name.length})`;
  if (name.includes('..') || name.includes('/') || name.includes('\\')) return 'must not contain path traversal (/, \\ or ..)';
  if (/[;&|`$<>(){}'"!*?\s]/.test(name)) return 'must not contain shell metacharacters or spaces';
  if (/[A-Z]/.test(name)) return 'must be lowercase';
  if (!/^[a-z0-9-]+$/.test(name)) return 'may contain only lowercase letters, digits and hyphens';
  if (!NAME.test(name)) return 'must start and end with a letter or digit';
  return undefined;
}

export const NAME_EXPECTED = 'a name of lowercase letters, digits and hyphens, starting and ending alphanumeric, at most 63 characters';

export function name(): Schema<string> {
  return str({ expected: NAME_EXPECTED, check: nameProblem });
}

/** `arn:aws:iam::123456789012:role/path/Name`, in any partition. */
export const ROLE_ARN = /^arn:aws(?:-[a-z]+)*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

export function roleArn(): Schema<string> {
  return str({ expected: 'an IAM role ARN (arn:aws:iam::123456789012:role/Name)', pattern: ROLE_ARN, max: 2048 });
}

export const REGION = /^[a-z]{2}(?:-gov|-iso[a-z]*)?-[a-z]+-\d{1,2}$/;

export function region(): Schema<string> {
  return str({ expected: 'an AWS region such as us-east-1', pattern: REGION });
}

export function sessionSeconds(): Schema<number> {
  return int({ min: MIN_SESSION_SECONDS, max: MAX_SESSION_SECONDS, unit: 'seconds' });
}

/** A caller token: at least 32 characters, printable, never echoed in a message. */
export function token(): Schema<string> {
  return str({
    secret: true,
    expected: `a token of at least ${MIN_TOKEN_LENGTH} characters (sidekey token makes one)`,
    min: MIN_TOKEN_LENGTH,
    max: MAX_TOKEN_LENGTH,
    check: (value) => (/^[\x21-\x7e]+$/.test(value) ? undefined : 'must be printable ASCII with no spaces or line breaks'),
  });
}

/** Says why `text` is not an IPv4/IPv6 CIDR block, or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return 'expected a CIDR block such as 10.0.0.0/16';
  const address = match[1] as string;
  const bits = Number(match[2]);
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  const max = family === 4 ? 32 : 128;
  if (bits > max) return `prefix /${bits} is longer than /${max}`;
  if (family === 4) {
    const value = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
    const hostBits = 32 - bits;
    if (hostBits > 0 && value % 2 ** hostBits !== 0) return `${text} has host bits set (the network is not aligned to /${bits})`;
  }
  return undefined;
}

export function cidr(): Schema<string> {
  return str({ expected: 'a CIDR block such as 172.17.0.5/32', check: cidrProblem });
}
