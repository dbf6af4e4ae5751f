/**
 * The encryption context `{app, name, serial}` that binds a ciphertext to the one version it was
 * written for. It is never stored: the reader rebuilds it from where the row sits, so a row copied
 * to another name or serial (the swap ecs-secrets allowed) no longer authenticates.
 */

/** KMS's own type for an encryption context: string keys to string values. */
export type EncryptionContext = Readonly<Record<string, string>>;

export function encryptionContext(app: string, name: string, serial: number): EncryptionContext {
  return { app, name, serial: String(serial) };
}

/**
 * The canonical bytes of a context for use as AAD: keys sorted, `key=value` lines joined by `\n`
 * and length-prefixed, so no two different contexts serialize to the same bytes.
 */
export function canonicalContext(context: EncryptionContext): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(context).sort()) {
    for (const text of [key, context[key] as string]) {
      const bytes = Buffer.from(text, 'utf8');
      const length = Buffer.alloc(4);
      length.writeUInt32BE(bytes.length);
      parts.push(length, bytes);
    }
  }
  return Buffer.concat(parts);
}
