/**
 * Every limit of the secrets store, with its unit; docs/secrets.md lists them.
 */

/** The largest payload stored: 64 KiB of UTF-8 (counted in bytes, not characters). */
export const MAX_PAYLOAD_BYTES = 64 * 1024; // 64 KiB
/**
 * The largest HTTP request body: a JSON string may escape every byte of a 64 KiB payload as
 * `\u00XX` (6 bytes each), plus room for the other fields.
 */
export const MAX_REQUEST_BODY_BYTES = 6 * MAX_PAYLOAD_BYTES + 4 * 1024; // 388 KiB
/** The highest serial (DynamoDB numbers and JavaScript integers both hold it exactly). */
export const MAX_SERIAL = Number.MAX_SAFE_INTEGER;
/** How many times one create retries when another writer took the serial it sealed for. */
export const MAX_CREATE_ATTEMPTS = 64;
/** Decrypted values held in the in-memory cache at most (oldest dropped first). */
export const MAX_CACHE_ENTRIES = 10_000;
/** Bounds of a generated secret (rotate), in characters. */
export const MIN_GENERATED_LENGTH = 8;
export const MAX_GENERATED_LENGTH = 4096;
export const DEFAULT_GENERATED_LENGTH = 32;
/** The longest custom alphabet for generated secrets, in characters. */
export const MAX_ALPHABET_LENGTH = 256;
/** The longest actor (token id or OS user) recorded in created_by / revoked_by, in characters. */
export const MAX_ACTOR_LENGTH = 128;
