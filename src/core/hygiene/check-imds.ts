/**
 * The metadata guard should be configured (an SSRF that reaches 169.254.169.254 otherwise hands
 * out the instance's credentials), and no extra allow rule may re-open what its presets deny:
 * user-data (often holds bootstrap secrets) and instance credentials or identity signatures.
 */
import type { LoadedConfig } from '../config/load-config.js';
import { type CheckId, type Finding, finding } from './finding.js';

/** Paths the presets deny, after the version prefix, and the finding an allow rule for them raises. */
export const GUARDED_PATHS: readonly { readonly path: string; readonly id: CheckId }[] = [
  { path: 'user-data', id: 'imds-user-data-allowed' },
  { path: 'meta-data/iam/security-credentials', id: 'imds-credentials-allowed' },
  { path: 'meta-data/identity-credentials', id: 'imds-credentials-allowed' },
  { path: 'dynamic/instance-identity/pkcs7', id: 'imds-credentials-allowed' },
  { path: 'dynamic/instance-identity/signature', id: 'imds-credentials-allowed' },
];

/** Version prefixes probed: `latest` and a dated one, so rules such as `/2*` are caught too. */
const VERSIONS = ['latest', '2009-04-04'] as const;
const DATED_VERSION = /^\/\d{4}-\d{2}-\d{2}(?=\/|$)/;

/** True when `rule` (an allow rule) lets through something at or under `guarded`. */
export function ruleOpens(rule: string, guarded: string): boolean {
  const lower = rule.toLowerCase();
  const candidates = [lower, lower.replace(DATED_VERSION, '/latest')];
  for (const candidate of candidates) {
    const prefix = candidate.endsWith('*');
    const base = (prefix ? candidate.slice(0, -1) : candidate).replace(/\/$/, '') || '/';
    for (const version of VERSIONS) {
      const target = `/${version}/${guarded}`;
      if (base === target || base.startsWith(`${target}/`)) return true;
      if (prefix && target.startsWith(base)) return true;
    }
  }
  return false;
}

export function checkImds(loaded: LoadedConfig): Finding[] {
  const imds = loaded.config.imds;
  if (!imds) {
    return [
      finding(
        'imds-guard-absent',
        'imds',
        'no metadata guard is configured: on EC2, any container or SSRF that reaches 169.254.169.254 gets the instance role credentials and user-data',
        'add an imds section (the default preset denies credentials and user-data) and redirect containers to it (sidekey imds rules), or set the instance metadata hop limit to 1; ignore this off EC2',
      ),
    ];
  }
  const findings: Finding[] = [];
  imds.allow.forEach((rule, i) => {
    const reported = new Set<CheckId>();
    for (const guarded of GUARDED_PATHS) {
      if (reported.has(guarded.id) || !ruleOpens(rule, guarded.path)) continue;
      reported.add(guarded.id);
      findings.push(
        finding(
          guarded.id,
          `imds.allow[${i}]`,
          `the allow rule ${JSON.stringify(rule)} re-opens /latest/${guarded.path}${guarded.id === 'imds-user-data-allowed' ? ', which often holds bootstrap secrets' : ', handing out the instance identity'}`,
          guarded.id === 'imds-credentials-allowed'
            ? 'remove the rule; map callers to a service under imds.callers to give them their own role instead'
            : 'remove the rule, or narrow it to the exact harmless paths needed',
        ),
      );
    }
  });
  // Per-caller mode answers by address. A container that uses the credential endpoint as a service
  // no caller maps to, and whose chain falls back to IMDS when the endpoint refuses it (JS SDK v2,
  // Ruby), gets the role of whatever service its address maps to instead.
  if (imds.callers.length > 0) {
    const mapped = new Set(imds.callers.map((c) => c.service));
    const unmapped = Object.keys(loaded.config.services).filter((service) => !mapped.has(service));
    if (unmapped.length > 0) {
      findings.push(
        finding(
          'imds-fallback-role',
          'imds.callers',
          `services ${unmapped.join(', ')} are served by the credential endpoint but no imds.callers entry maps to them: a client of one whose request the endpoint refuses, and whose chain falls back to IMDS (JS SDK v2, Ruby), gets the role of the service its address maps to`,
          "map each container's address to the service its token belongs to, or run the containers that use the endpoint outside per-caller mode",
        ),
      );
    }
  }
  return findings;
}
