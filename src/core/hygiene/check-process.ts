/** Checks on the process that runs (or will run) the daemon, and on the incident-response API. */
import type { LoadedConfig } from '../config/load-config.js';
import { type Finding, finding } from './finding.js';

/** The user and group id the deployment files run sidekey as (as CredProxy does). */
export const SIDEKEY_UID = 1338;

/** `uid` is the effective user id (undefined on platforms without one). */
export function checkProcess(loaded: LoadedConfig, uid: number | undefined): Finding[] {
  const findings: Finding[] = [];
  if (uid === 0) {
    findings.push(
      finding(
        'running-as-root',
        '(process)',
        'sidekey runs as root: a flaw in any front would hand over the whole host',
        `run it as an unprivileged user (uid ${SIDEKEY_UID} in deploy/Dockerfile, DynamicUser in deploy/sidekey.service); binding port 80 needs only CAP_NET_BIND_SERVICE`,
      ),
    );
  }
  if (loaded.config.admin.token === undefined) {
    findings.push(
      finding(
        'admin-api-off',
        'admin.token',
        'the incident-response API (disable a service, rotate its token) is off',
        'set admin.token: ${fromFile:/run/secrets/sidekey-admin} so a compromised service can be cut off without a restart',
      ),
    );
  }
  return findings;
}
