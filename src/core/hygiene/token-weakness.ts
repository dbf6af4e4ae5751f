/**
 * Judges a token without revealing it: says why it is weak (short, low in entropy, periodic,
 * sequential or dictionary-like), or nothing. The reasons never quote any part of the token.
 * Thresholds are tuned so that tokens from `sidekey token` (32 random bytes), `openssl rand -hex 16`
 * and `secrets.token_urlsafe(32)` always pass, and hand-made ones such as
 * "web-app-secure-token-2025-abc123def456" do not.
 */
import { MIN_TOKEN_LENGTH } from '../config/validators.js';

/**
 * Least estimated entropy, in bits: the token's own character distribution (Shannon) times its
 * length. 32 random hex characters (128 real bits) estimate at 90 bits or more; "aaaa...b" at 7.
 */
export const MIN_TOKEN_ENTROPY_BITS = 80;
/** A run of this many consecutive characters (abcdef, 654321, qwerty) marks a hand-made token. */
export const MIN_SEQUENCE_RUN = 6;
/** Words people put in hand-made tokens; matched case-insensitively, each at least 5 letters. */
export const WEAK_WORDS: ReadonlySet<string> = new Set([
  'password',
  'passwd',
  'secret',
  'token',
  'secure',
  'changeme',
  'example',
  'admin',
  'default',
  'letmein',
  'welcome',
  'qwerty',
  'dragon',
  'master',
  'monkey',
  'sidekey',
  'credproxy',
  'dummy',
  'sample',
  'insecure',
  'testing',
]);

const KEYBOARD_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm', '1234567890'];

/** Shannon entropy of the token's characters, times its length, in bits. */
export function estimatedEntropyBits(token: string): number {
  const counts = new Map<string, number>();
  for (const ch of token) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  const length = [...token].length;
  let bitsPerChar = 0;
  for (const n of counts.values()) {
    const p = n / length;
    bitsPerChar -= p * Math.log2(p);
  }
  return bitsPerChar * length;
}

/** True when the token is one shorter unit repeated (abcabcabc..., with a partial tail allowed). */
function isPeriodic(token: string): boolean {
  for (let unit = 1; unit <= token.length / 2; unit++) {
    let periodic = true;
    for (let i = unit; i < token.length && periodic; i++) periodic = token[i] === token[i - unit];
    if (periodic) return true;
  }
  return false;
}

function hasSequence(token: string): boolean {
  const lower = token.toLowerCase();
  let up = 1;
  let down = 1;
  for (let i = 1; i < lower.length; i++) {
    const step = lower.charCodeAt(i) - lower.charCodeAt(i - 1);
    up = step === 1 ? up + 1 : 1;
    down = step === -1 ? down + 1 : 1;
    if (up >= MIN_SEQUENCE_RUN || down >= MIN_SEQUENCE_RUN) return true;
  }
  for (const row of KEYBOARD_ROWS) {
    for (let start = 0; start + MIN_SEQUENCE_RUN <= row.length; start++) {
      const run = row.slice(start, start + MIN_SEQUENCE_RUN);
      if (lower.includes(run) || lower.includes([...run].reverse().join(''))) return true;
    }
  }
  return false;
}

const isLetter = (ch: string | undefined) => ch !== undefined && ch >= 'a' && ch <= 'z';

/**
 * True when `word` stands in `lower` as a word of its own: no letter right before or after it
 * (`web-app-secure-token`, `token2025`). A random token contains a 5-letter word by chance about
 * once in 40,000 (base64url), always glued to other letters; a delimited one about 30 times rarer.
 */
function containsWord(lower: string, word: string): boolean {
  for (let at = lower.indexOf(word); at !== -1; at = lower.indexOf(word, at + 1)) {
    if (!isLetter(lower[at - 1]) && !isLetter(lower[at + word.length])) return true;
  }
  return false;
}

function hasWeakWord(token: string, extraWords: readonly string[]): boolean {
  const lower = token.toLowerCase();
  for (const word of WEAK_WORDS) if (containsWord(lower, word)) return true;
  // The key's own name (a service called "billing" with a token containing "billing").
  return extraWords.some((word) => word.length >= 4 && containsWord(lower, word.toLowerCase()));
}

/**
 * Why `token` is weak, or undefined when it is not. `context` holds words that must not appear
 * in it (the service or token id it belongs to).
 */
export function tokenWeakness(token: string, context: readonly string[] = []): string | undefined {
  const length = [...token].length;
  if (length < MIN_TOKEN_LENGTH) return `it is shorter than ${MIN_TOKEN_LENGTH} characters`;
  if (isPeriodic(token)) return 'it is one short pattern repeated';
  const bits = estimatedEntropyBits(token);
  if (bits < MIN_TOKEN_ENTROPY_BITS) {
    return `its estimated entropy is ${Math.floor(bits)} bits, below ${MIN_TOKEN_ENTROPY_BITS} (too few distinct characters or one repeated)`;
  }
  if (hasSequence(token)) return `it contains a run of ${MIN_SEQUENCE_RUN} or more consecutive or keyboard-adjacent characters`;
  if (hasWeakWord(token, context)) return 'it contains a common word or its own name, so it was not generated at random';
  return undefined;
}
