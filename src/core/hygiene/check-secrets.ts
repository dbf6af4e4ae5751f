/**
 * Token and secret checks: weak tokens, one token on several keys, secrets written literally in the
 * config file, token files that cannot be read. Reuse is found by comparing SHA-256 digests held
 * in memory; neither a token nor its digest is ever printed.
 */
import { createHash } from 'node:crypto';
import { type Finding, finding } from './finding.js';
import type { SecretValue } from './secret-values.js';
import { tokenWeakness } from './token-weakness.js';

const MAKE_TOKEN = 'generate one with `sidekey token > FILE; chmod 600 FILE` and refer to it as ${fromFile:FILE}';

export function checkSecrets(values: readonly SecretValue[]): Finding[] {
  const findings: Finding[] = [];
  const byDigest = new Map<string, string[]>();
  for (const item of values) {
    if (item.readError !== undefined) {
      findings.push(
        finding(
          'secret-file-missing',
          item.path,
          `the token file cannot be read: ${item.readError}`,
          `create it: ${MAKE_TOKEN} (or run sidekey init)`,
        ),
      );
      continue;
    }
    if (item.source === 'literal') {
      const what = item.kind === 'token' ? 'token' : 'secret';
      findings.push(
        finding(
          'secret-inline',
          item.path,
          `the ${what} is written literally in the config file, so it ends up in backups, diffs and images`,
          `move it to a file readable only by sidekey (mode 0600) and write \${fromFile:/run/secrets/NAME} instead${item.kind === 'secret' && item.path.includes('iam_keys') ? ', or better, use a role instead of access keys' : ''}`,
        ),
      );
    }
    if (item.kind !== 'token' || item.value === undefined) continue;
    const weakness = tokenWeakness(item.value, item.context);
    if (weakness !== undefined)
      findings.push(finding('token-weak', item.path, `the token is weak: ${weakness}`, `replace it: ${MAKE_TOKEN}`));
    const digest = createHash('sha256').update(item.value).digest('hex');
    byDigest.set(digest, [...(byDigest.get(digest) ?? []), item.path]);
  }
  for (const paths of byDigest.values()) {
    if (paths.length < 2) continue;
    findings.push(
      finding(
        'token-reused',
        paths.join(', '),
        `${paths.length} keys hold the same token, so one leak opens all of them and revoking one revokes the others`,
        `give each key its own token: ${MAKE_TOKEN}`,
      ),
    );
  }
  return findings;
}
