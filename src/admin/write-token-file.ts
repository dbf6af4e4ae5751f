/**
 * Replaces a token file atomically with mode 0600: the new content goes to a private temporary
 * file in the same directory (created exclusively, 0600 from the start), is flushed to disk, then
 * renamed over the old file, so a reader sees the old token or the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const TOKEN_FILE_MODE = 0o600;

export function writeTokenFile(file: string, token: string): void {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', TOKEN_FILE_MODE);
  try {
    try {
      // No line ending: SDKs send a token file's content as it is (see cli/commands/token.ts).
      writeSync(fd, token);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or never written
    }
    throw error;
  }
}
