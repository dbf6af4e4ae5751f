/**
 * Whether a directory lives in memory (tmpfs or ramfs), so a secret written there is gone at the
 * next boot and never reaches a disk, a snapshot or a backup.
 */
import { statfsSync } from 'node:fs';

/** statfs(2) f_type of tmpfs and ramfs (linux/magic.h). */
const MEMORY_FILESYSTEMS: ReadonlySet<number> = new Set([0x01021994, 0x858458f6]);

/**
 * true or false on Linux; undefined elsewhere (other kernels number their filesystems otherwise)
 * or when the directory cannot be read.
 */
export function onMemoryFilesystem(directory: string): boolean | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return MEMORY_FILESYSTEMS.has(statfsSync(directory).type);
  } catch {
    return undefined;
  }
}
