/**
 * How a version's payload becomes the two stored blobs and back. sidekey's own envelope
 * (secret-crypto.ts: format version, algorithm id, the version's encryption context as AAD and as
 * KMS context) is the default; ecs-secrets' tables need that tool's own format
 * (ecs-secrets-codec.ts), so the service seals and opens through this seam.
 */
import type { Keyring } from './keyring.js';
import { openVersion, type Sealed, sealVersion } from './secret-crypto.js';
import type { VersionRow } from './secret-store.js';

export interface VersionCodec {
  seal(app: string, name: string, serial: number, payload: Buffer): Promise<Sealed>;
  /** Decrypts an active row; a failure of authenticity is a SECRET_INTEGRITY error naming the version. */
  open(row: VersionRow): Promise<string>;
  /** Creates what it needs before serving (the local key file); a no-op for KMS. */
  setup(): Promise<void>;
  /** For logs and `setup`: never key material. */
  describe(): string;
}

export function envelopeCodec(keyring: Keyring): VersionCodec {
  return {
    seal: (app, name, serial, payload) => sealVersion(keyring, app, name, serial, payload),
    open: (row) => openVersion(keyring, row),
    setup: () => keyring.setup(),
    describe: () => keyring.describe(),
  };
}
