/**
 * Generated secrets for `rotate`: uniform characters from an alphabet, by rejection sampling
 * (crypto.randomInt), so no character is more likely than another.
 */
import { randomInt } from 'node:crypto';
import { SidekeyError } from '../errors.js';
import { DEFAULT_GENERATED_LENGTH, MAX_ALPHABET_LENGTH, MAX_GENERATED_LENGTH, MIN_GENERATED_LENGTH } from './secret-limits.js';

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
const DIGITS = '0123456789';

/** Named alphabets; any other string of at least two distinct characters is used as given. */
export const ALPHABETS = {
  alnum: LOWER + UPPER + DIGITS,
  hex: '0123456789abcdef',
  base64url: `${LOWER}${UPPER}${DIGITS}-_`,
  /** Printable ASCII without space, quotes or backslash (safe in shells, URLs need escaping). */
  symbols: `${LOWER}${UPPER}${DIGITS}!#%()*+,-./:;<=>?@[]^_{|}~`,
} as const;
export type AlphabetName = keyof typeof ALPHABETS;
export const DEFAULT_ALPHABET: AlphabetName = 'alnum';

export interface GeneratorSpec {
  readonly length?: number;
  /** A name from ALPHABETS, or `chars:` followed by the characters to use. */
  readonly alphabet?: string;
}

export function resolveAlphabet(alphabet: string = DEFAULT_ALPHABET): string[] {
  if (Object.hasOwn(ALPHABETS, alphabet)) return [...ALPHABETS[alphabet as AlphabetName]];
  if (alphabet.startsWith('chars:')) {
    const chars = [...new Set(alphabet.slice('chars:'.length))];
    if (chars.length < 2 || chars.length > MAX_ALPHABET_LENGTH) {
      throw new SidekeyError(
        'BAD_REQUEST',
        `a custom alphabet needs 2 to ${MAX_ALPHABET_LENGTH} distinct characters (it has ${chars.length})`,
      );
    }
    return chars;
  }
  throw new SidekeyError(
    'BAD_REQUEST',
    `unknown alphabet ${JSON.stringify(alphabet.slice(0, 40))}: use ${Object.keys(ALPHABETS).join(', ')} or chars:...`,
  );
}

export function generatePayload(spec: GeneratorSpec = {}): string {
  const length = spec.length ?? DEFAULT_GENERATED_LENGTH;
  if (!Number.isSafeInteger(length) || length < MIN_GENERATED_LENGTH || length > MAX_GENERATED_LENGTH) {
    throw new SidekeyError('BAD_REQUEST', `length must be an integer from ${MIN_GENERATED_LENGTH} to ${MAX_GENERATED_LENGTH} (characters)`);
  }
  const chars = resolveAlphabet(spec.alphabet);
  let out = '';
  for (let i = 0; i < length; i++) out += chars[randomInt(chars.length)];
  return out;
}
