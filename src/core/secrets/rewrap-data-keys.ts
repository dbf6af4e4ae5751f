/**
 * Key rotation for the secrets store: every version's data key re-wrapped under the keyring's
 * newest master key; payloads are not touched. A row whose wrapped key fails its integrity check
 * is reported (as app/name#serial) and left as it is, so one damaged row does not stop a key
 * rotation; any other failure stops the run. SecretService.rewrap runs it, audited.
 */
import { isSidekeyError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { encryptionContext } from './encryption-context.js';
import { decodeWrappedKey, encodeWrappedKey, type WrappedKey } from './key-envelope.js';
import type { Keyring } from './keyring.js';
import { EnvelopeError } from './payload-envelope.js';
import { describeVersion } from './secret-errors.js';
import type { SecretStore } from './secret-store.js';

/** Damaged rows named in rewrap's log line at most (the report lists them all). */
export const MAX_REPORTED_FAILURES = 100;

export interface RewrapReport {
  readonly rewrapped: number;
  readonly unchanged: number;
  /** Rows revoked or changed while rewrap ran. */
  readonly skipped: number;
  /** Rows whose wrapped key failed its integrity check, as app/name#serial; left untouched. */
  readonly failed: readonly string[];
}

export async function rewrapDataKeys(store: SecretStore, keyring: Keyring, logger: Logger | undefined): Promise<RewrapReport> {
  let rewrapped = 0;
  let unchanged = 0;
  let skipped = 0;
  const failed: string[] = [];
  await keyring.prepareRewrap();
  for await (const ref of store.scanKeys()) {
    let next: WrappedKey | undefined;
    try {
      next = await keyring.rewrap(decodeWrappedKey(ref.dataKey), encryptionContext(ref.app, ref.name, ref.serial));
    } catch (error) {
      if (!(error instanceof EnvelopeError) && !isSidekeyError(error, 'SECRET_INTEGRITY')) throw error;
      failed.push(describeVersion(ref.app, ref.name, ref.serial));
      continue;
    }
    if (!next) {
      unchanged++;
      continue;
    }
    if (await store.replaceDataKey(ref, encodeWrappedKey(next))) rewrapped++;
    else skipped++;
  }
  if (failed.length > 0)
    logger?.warn({ failed: failed.slice(0, MAX_REPORTED_FAILURES) }, 'rewrap left rows that failed their integrity check');
  return { rewrapped, unchanged, skipped, failed };
}
