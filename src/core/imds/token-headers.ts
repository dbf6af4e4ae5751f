/**
 * The IMDSv2 headers, read from the raw header lines so that duplicates and padding are seen
 * (a general HTTP parser would join duplicates and trim padding before anyone could refuse them).
 * Reference: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/configuring-instance-metadata-service.html
 */

export const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
export const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
/** IMDS's own bounds for a token's lifetime, in seconds. */
export const MIN_TOKEN_TTL_SECONDS = 1;
export const MAX_TOKEN_TTL_SECONDS = 21_600;
/** Longest token accepted, in characters (IMDS tokens are about 56). */
export const MAX_IMDS_TOKEN_LENGTH = 1024;

const TOKEN_CHARS = /^[A-Za-z0-9+/=_-]+$/;
const TTL_DIGITS = /^[1-9][0-9]{0,9}$/;

export type TokenHeaderProblem = 'duplicate' | 'padded' | 'characters' | 'too-long' | 'leading-zero' | 'out-of-range';

/** What each refusal says, so the caller learns which rule it broke. */
export const TOKEN_HEADER_PROBLEMS: Readonly<Record<TokenHeaderProblem, string>> = {
  duplicate: 'is sent more than once',
  padded: 'has spaces or tabs around its value',
  characters: 'has characters its value cannot have (a token: letters, digits and +/=_-; a TTL: decimal digits)',
  'too-long': `is longer than ${MAX_IMDS_TOKEN_LENGTH} characters`,
  'leading-zero': 'has a leading zero (write the number of seconds plainly)',
  'out-of-range': `must be ${MIN_TOKEN_TTL_SECONDS} to ${MAX_TOKEN_TTL_SECONDS} seconds`,
};

export interface TokenHeaders {
  readonly token?: string;
  /** The TTL as sent, already checked to be a plain decimal (range is checked by the caller). */
  readonly ttlSeconds?: number;
}

export interface TokenHeaderRefusal {
  readonly header: typeof TOKEN_HEADER | typeof TOKEN_TTL_HEADER;
  readonly problem: TokenHeaderProblem;
}

/** What most requests carry: neither header (one shared object, nothing built per request). */
const NO_TOKEN_HEADERS: TokenHeaders = Object.freeze({});

/**
 * A value as it follows the colon may start with one space (the usual `Name: value`) and nothing
 * else around it; anything more is padding, refused rather than trimmed.
 */
function unpad(raw: string): string | undefined {
  const value = raw.startsWith(' ') ? raw.slice(1) : raw;
  return /^[ \t]|[ \t]$/.test(value) || value === '' ? undefined : value;
}

/** `headers` holds [lower-case name, raw value after the colon] in arrival order. */
export function readTokenHeaders(headers: readonly (readonly [string, string])[]): TokenHeaders | TokenHeaderRefusal {
  let token: string | undefined;
  let ttl: string | undefined;
  for (const [name, raw] of headers) {
    if (name !== TOKEN_HEADER && name !== TOKEN_TTL_HEADER) continue;
    const header = name;
    if ((name === TOKEN_HEADER ? token : ttl) !== undefined) return { header, problem: 'duplicate' };
    const value = unpad(raw);
    if (value === undefined) return { header, problem: 'padded' };
    if (value.length > MAX_IMDS_TOKEN_LENGTH) return { header, problem: 'too-long' };
    if (name === TOKEN_HEADER) {
      if (!TOKEN_CHARS.test(value)) return { header, problem: 'characters' };
      token = value;
    } else {
      if (!TTL_DIGITS.test(value)) {
        if (!/^\d+$/.test(value)) return { header, problem: 'characters' };
        return { header, problem: /^0+$/.test(value) ? 'out-of-range' : 'leading-zero' };
      }
      ttl = value;
    }
  }
  if (token === undefined && ttl === undefined) return NO_TOKEN_HEADERS;
  return { ...(token !== undefined ? { token } : {}), ...(ttl !== undefined ? { ttlSeconds: Number(ttl) } : {}) };
}

export function isTokenHeaderRefusal(value: TokenHeaders | TokenHeaderRefusal): value is TokenHeaderRefusal {
  return 'problem' in value;
}

export function ttlInRange(seconds: number): boolean {
  return Number.isSafeInteger(seconds) && seconds >= MIN_TOKEN_TTL_SECONDS && seconds <= MAX_TOKEN_TTL_SECONDS;
}
