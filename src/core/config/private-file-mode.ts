/** The one rule for files that hold a secret (key, token, token bindings): group and others get no access. */
import { SidekeyError } from '../errors.js';

/** Permission bits a private file must not have. */
export const GROUP_OTHER_BITS = 0o077;

/** Throws FILE_PERMISSIONS, naming the mode and the chmod to run, unless `mode` is private. */
export function refuseLooseMode(what: string, path: string, mode: number): void {
  if ((mode & GROUP_OTHER_BITS) === 0) return;
  throw new SidekeyError(
    'FILE_PERMISSIONS',
    `${what} ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}: group and others must have no access (chmod 600 ${path})`,
  );
}
