/**
 * The guard's built-in rules. The credential floor is evaluated before any allow rule and cannot
 * be opened by config: the instance's own credentials never pass through the guard. Presets then
 * decide what the config's own allow/deny rules leave open.
 * Paths: https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html
 */

export interface RuleSpec {
  readonly name: string;
  readonly effect: 'allow' | 'deny';
  readonly pattern: string;
}

export const IMDS_PRESET_NAMES = ['default', 'strict'] as const;
export type ImdsPresetName = (typeof IMDS_PRESET_NAMES)[number];

/** The token endpoint of IMDSv2 (only under `latest`). */
export const TOKEN_PATH_KEY = '/latest/api/token';

/** Credential-bearing paths, under every version prefix. The `*` after security-credentials also covers `security-credentials-extended`. */
export const CREDENTIAL_FLOOR: readonly RuleSpec[] = [
  { name: 'floor:instance-credentials', effect: 'deny', pattern: '/*/meta-data/iam/security-credentials*' },
  { name: 'floor:identity-credentials', effect: 'deny', pattern: '/*/meta-data/identity-credentials*' },
];

/** Prefix of the paths the per-caller mode answers itself (with the version segment removed). */
export const CALLER_CREDENTIALS_PREFIX = 'meta-data/iam/security-credentials';

interface Preset {
  readonly rules: readonly RuleSpec[];
  /** What decides when no rule matched. */
  readonly fallback: RuleSpec['effect'];
}

const deny = (name: string, pattern: string): RuleSpec => ({ name, effect: 'deny', pattern });
const allow = (name: string, pattern: string): RuleSpec => ({ name, effect: 'allow', pattern });

export const IMDS_PRESETS: Readonly<Record<ImdsPresetName, Preset>> = {
  /** The two rules of the usual nginx setup (instance credentials, user-data) and more: a deny-list over a pass-through. */
  default: {
    rules: [
      deny('default:iam-info', '/*/meta-data/iam/info*'),
      deny('default:iam', '/*/meta-data/iam/*'),
      deny('default:user-data', '/*/user-data*'),
      deny('default:identity-pkcs7', '/*/dynamic/instance-identity/pkcs7*'),
      deny('default:identity-signature', '/*/dynamic/instance-identity/signature*'),
      deny('default:identity-rsa2048', '/*/dynamic/instance-identity/rsa2048*'),
    ],
    fallback: 'allow',
  },
  /** An allow-list of harmless paths; everything else is denied. */
  strict: {
    rules: [
      allow('strict:token', TOKEN_PATH_KEY),
      allow('strict:instance-id', '/*/meta-data/instance-id'),
      allow('strict:instance-type', '/*/meta-data/instance-type'),
      allow('strict:ami-id', '/*/meta-data/ami-id'),
      allow('strict:placement', '/*/meta-data/placement/*'),
      allow('strict:local-ipv4', '/*/meta-data/local-ipv4'),
      allow('strict:local-hostname', '/*/meta-data/local-hostname'),
      allow('strict:mac', '/*/meta-data/mac'),
      allow('strict:network-interfaces', '/*/meta-data/network/interfaces/*'),
    ],
    fallback: 'deny',
  },
};
