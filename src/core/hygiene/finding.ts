/**
 * What `sidekey check` reports: findings with a stable id, a severity, what is wrong, where (a
 * config key path, a file or the process) and how to fix it. Ids never change once published;
 * docs/hygiene.md lists each one. A finding never contains a secret value.
 */

/** `fail` makes `sidekey check` exit 1; `warn` deserves attention; `info` is context. */
export const SEVERITIES = ['fail', 'warn', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Every check id and its severity; the severity is part of the id's contract. */
export const CHECKS = {
  'token-weak': { severity: 'fail', title: 'a token is short, low in entropy, repetitive or dictionary-like' },
  'token-reused': { severity: 'fail', title: 'one token is used by more than one key' },
  'secret-inline': { severity: 'fail', title: 'a token or secret is written literally in the config file' },
  'token-file-newline': { severity: 'warn', title: "a service's token file ends in a newline, which botocore sends and refuses" },
  'secret-file-missing': { severity: 'warn', title: 'a token or key file named in the config cannot be read' },
  'file-permissions': { severity: 'fail', title: 'a key or token file is accessible by other users' },
  'file-permissions-group': { severity: 'warn', title: 'a key or token file is accessible by its group' },
  'file-directory-writable': { severity: 'fail', title: 'a key or token file is in a directory every user may write to' },
  'listener-exposed': { severity: 'fail', title: 'a listener without TLS is on a non-loopback address' },
  'listener-container-endpoint': { severity: 'info', title: 'a listener is on an ECS container-credentials address' },
  'pg-server-unauthenticated': {
    severity: 'warn',
    title: 'a Postgres server proxy beyond loopback has targets without client authentication',
  },
  'pg-tls-unverified': { severity: 'fail', title: 'a Postgres target does not verify the server certificate and host name' },
  'imds-guard-absent': { severity: 'warn', title: 'the instance-metadata guard is not configured' },
  'imds-fallback-role': {
    severity: 'warn',
    title: 'per-caller mode maps no address to some services the credential endpoint serves',
  },
  'imds-user-data-allowed': { severity: 'fail', title: 'an allow rule re-opens user-data in the metadata guard' },
  'imds-credentials-allowed': { severity: 'fail', title: 'an allow rule re-opens instance credentials in the metadata guard' },
  'running-as-root': { severity: 'fail', title: 'the daemon runs as root' },
  'long-lived-credentials': { severity: 'warn', title: 'base credentials are long-lived access keys, not a role' },
  'access-key-old': { severity: 'fail', title: 'an access key is older than the rotation limit' },
  'access-key-age-unknown': { severity: 'info', title: 'the age of an access key could not be read from IAM' },
  'session-too-short': { severity: 'fail', title: 'credentials can be handed out with too little lifetime left' },
  'secrets-legacy-format': { severity: 'warn', title: "the secrets store is ecs-secrets' own format, without sidekey's bindings" },
  'secrets-tokenless-api': { severity: 'warn', title: 'the ecs-secrets API answers without a token, as the token it acts as' },
  'agent-token-unscoped': { severity: 'warn', title: 'an agent token may read every secret or parameter its identity can' },
  'admin-api-off': { severity: 'info', title: 'the incident-response API is off (no admin.token)' },
} as const satisfies Record<string, { severity: Severity; title: string }>;

export type CheckId = keyof typeof CHECKS;

export interface Finding {
  readonly id: CheckId;
  readonly severity: Severity;
  /** What is wrong, in one sentence; never a secret value. */
  readonly message: string;
  /** Where: a config key path (`services.web-app.auth_token`), `(environment) NAME` or `(process)`. */
  readonly path: string;
  /** How to fix it. */
  readonly fix: string;
}

export function finding(id: CheckId, path: string, message: string, fix: string): Finding {
  return { id, severity: CHECKS[id].severity, path, message, fix };
}

export function hasFailure(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity === 'fail');
}
