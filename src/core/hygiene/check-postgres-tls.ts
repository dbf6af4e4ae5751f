/** Postgres upstream TLS must be `verify-full`: anything less lets a man in the middle read IAM tokens. */
import type { LoadedConfig } from '../config/load-config.js';
import { type Finding, finding } from './finding.js';

const WHY: Readonly<Record<string, string>> = {
  disable: 'sends the login (an IAM token or a password) and every query in clear text',
  require: 'encrypts but accepts any certificate, so a man in the middle can read the login',
  'verify-ca': 'checks the certificate chain but not the host name, so any certificate from that CA passes',
};

export function checkPostgresTls(loaded: LoadedConfig): Finding[] {
  const findings: Finding[] = [];
  for (const [name, target] of Object.entries(loaded.config.postgres?.targets ?? {})) {
    // Through a server proxy (via), this daemon's own upstream is the proxy: via_tls applies.
    const key = target.via !== undefined ? 'via_tls' : 'tls';
    const mode = target[key].mode;
    if (mode === 'verify-full') continue;
    findings.push(
      finding(
        'pg-tls-unverified',
        `postgres.targets.${name}.${key}.mode`,
        `TLS mode ${mode} ${WHY[mode] ?? 'does not verify the server'}`,
        'set mode: verify-full with ca_file pointing at the CA bundle (for RDS: the global bundle from https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)',
      ),
    );
  }
  return findings;
}
