/**
 * Key and token files must be readable by sidekey alone (mode 0600 or 0400). Covers every
 * `${fromFile:...}` the config read, service token files, the local master key, the SQLite store,
 * the Postgres server's TLS key and shared credentials files of profiles; and none may sit in a
 * directory every user can write to, where it could be replaced by rename.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LoadedConfig } from '../config/load-config.js';
import { type Finding, finding } from './finding.js';

/** Permission bits for other users: any of them on a key file is a failure. */
export const OTHER_ACCESS_BITS = 0o007;
/** Permission bits for the group: a warning (fine only when the group is sidekey's own). */
export const GROUP_ACCESS_BITS = 0o070;

interface SecretFile {
  readonly file: string;
  readonly path: string;
}

export function secretFiles(loaded: LoadedConfig): SecretFile[] {
  const { config } = loaded;
  const files: SecretFile[] = loaded.substitutions.filter((r) => r.source === 'file').map((r) => ({ file: r.ref, path: r.keyPath }));
  const add = (file: string | undefined, path: string) => {
    if (file !== undefined) files.push({ file, path });
  };
  add(config.aws_defaults?.iam_profile?.credentials_file, 'aws_defaults.iam_profile.credentials_file');
  for (const [name, service] of Object.entries(config.services)) {
    add(service.auth_token_file, `services.${name}.auth_token_file`);
    add(service.source_credentials?.iam_profile?.credentials_file, `services.${name}.source_credentials.iam_profile.credentials_file`);
  }
  const keyring = config.secrets?.keyring;
  if (keyring?.type === 'local' && keyring.keys === undefined) {
    add(keyring.key_file, 'secrets.keyring.key_file');
  }
  // The store holds ciphertext only, but its names, history and wrapped keys are nobody else's.
  const store = config.secrets?.store;
  if (store?.type === 'sqlite') add(store.path, 'secrets.store.path');
  for (const [name, target] of Object.entries(config.postgres?.targets ?? {}))
    add(target.client_tls?.key_file, `postgres.targets.${name}.client_tls.key_file`);
  add(config.postgres?.server?.tls.key_file, 'postgres.server.tls.key_file');
  const seen = new Set<string>();
  return files.filter((f) => {
    if (seen.has(f.file)) return false;
    seen.add(f.file);
    return true;
  });
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

export function checkFileModes(loaded: LoadedConfig): Finding[] {
  const findings: Finding[] = [];
  for (const { file, path } of secretFiles(loaded)) {
    let mode: number;
    try {
      mode = statSync(file).mode;
    } catch {
      continue; // missing files are reported by the token checks, or created on first use (master key)
    }
    const fix = `chmod 600 ${file} (and chown it to the user sidekey runs as)`;
    const dir = dirname(file);
    let dirMode = 0;
    try {
      dirMode = statSync(dir).mode;
    } catch {}
    if (dirMode & 0o002) {
      findings.push(
        finding(
          'file-directory-writable',
          path,
          `${file} is in ${dir}, which every user may write to (mode ${octal(dirMode)}): another user can put their own file in its place (rename over it), and sidekey reads it within seconds`,
          `keep ${file} in a directory only sidekey's user can write to (chmod 700 or 755, owned by that user)`,
        ),
      );
    }
    if (mode & OTHER_ACCESS_BITS) {
      findings.push(
        finding('file-permissions', path, `${file} has mode ${octal(mode)}: every user on this host can read or change it`, fix),
      );
    } else if (mode & GROUP_ACCESS_BITS) {
      findings.push(
        finding(
          'file-permissions-group',
          path,
          `${file} has mode ${octal(mode)}: members of its group can read or change it`,
          `${fix}; group access is fine only when the group is sidekey's own (a Kubernetes fsGroup)`,
        ),
      );
    }
  }
  return findings;
}
