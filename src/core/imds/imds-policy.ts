/**
 * The metadata guard's path policy: one decision per canonical target, naming the rule that made
 * it. Order: config deny rules, the credential floor, config allow rules, the preset's rules in
 * order, the preset's fallback. Deny rules from config therefore always win, and no allow rule can
 * open the credential floor.
 */
import type { CanonicalTarget } from './canonical-target.js';
import { CREDENTIAL_FLOOR, IMDS_PRESETS, type ImdsPresetName, type RuleSpec } from './imds-presets.js';
import { compilePathPattern, type PathPattern } from './path-pattern.js';

export interface PolicyDecision {
  readonly effect: 'allow' | 'deny';
  /** The rule that decided, e.g. `default:user-data`, `config-deny:/latest/meta-data/tags/*`. */
  readonly rule: string;
}

export interface ImdsPolicyOptions {
  readonly preset: ImdsPresetName;
  readonly allow: readonly string[];
  readonly deny: readonly string[];
}

interface CompiledRule {
  readonly decision: PolicyDecision;
  readonly pattern: PathPattern;
}

const compile = (spec: RuleSpec): CompiledRule => ({
  decision: Object.freeze({ effect: spec.effect, rule: spec.name }),
  pattern: compilePathPattern(spec.pattern),
});

/**
 * IMDS serves its tree only under a version (`latest`, `1.0` or a date such as `2009-04-04`), and
 * `/` lists the versions. Anything else is refused before any rule: the floor's `/*` patterns need a
 * version segment, so a versionless or deeper path must never reach IMDS to be interpreted there.
 */
const VERSION_SEGMENT = /^\/(?:latest|1\.0|\d{4}-\d{2}-\d{2})(?:\/|$)/;
const UNVERSIONED: PolicyDecision = Object.freeze({ effect: 'deny', rule: 'floor:unversioned' });

const CREDENTIALS_ANYWHERE = /\/(?:iam\/security-credentials|identity-credentials)/;
const CREDENTIALS_DEEPER: PolicyDecision = Object.freeze({ effect: 'deny', rule: 'floor:credentials-at-depth' });

function isVersioned(key: string): boolean {
  return key === '/' || VERSION_SEGMENT.test(key);
}

export class ImdsPolicy {
  readonly preset: ImdsPresetName;
  readonly #denyFirst: readonly CompiledRule[];
  readonly #floor: readonly CompiledRule[];
  readonly #rest: readonly CompiledRule[];
  readonly #fallback: PolicyDecision;

  /** Throws on an invalid rule; the config schema checks rules first, so that means a bug. */
  constructor(options: ImdsPolicyOptions) {
    const preset = IMDS_PRESETS[options.preset];
    this.preset = options.preset;
    this.#denyFirst = options.deny.map((pattern) => compile({ name: `config-deny:${pattern}`, effect: 'deny', pattern }));
    this.#floor = CREDENTIAL_FLOOR.map(compile);
    this.#rest = [
      ...options.allow.map((pattern) => compile({ name: `config-allow:${pattern}`, effect: 'allow', pattern })),
      ...preset.rules.map(compile),
    ];
    this.#fallback = Object.freeze({ effect: preset.fallback, rule: `${options.preset}:${preset.fallback}-rest` });
  }

  /** The config deny rule matching `target`, if any (checked before the per-caller mode). */
  configDeny(target: CanonicalTarget): PolicyDecision | undefined {
    return this.#denyFirst.find((r) => r.pattern.matches(target.key))?.decision;
  }

  decide(target: CanonicalTarget): PolicyDecision {
    if (!isVersioned(target.key)) return UNVERSIONED;
    for (const list of [this.#denyFirst, this.#floor]) {
      for (const rule of list) if (rule.pattern.matches(target.key)) return rule.decision;
    }
    // The floor at any depth (/latest/x/meta-data/iam/...), not only right under the version.
    if (CREDENTIALS_ANYWHERE.test(target.key)) return CREDENTIALS_DEEPER;
    for (const rule of this.#rest) if (rule.pattern.matches(target.key)) return rule.decision;
    return this.#fallback;
  }

  /** Every rule name this policy can answer with (for docs and metrics). */
  ruleNames(): string[] {
    return [
      UNVERSIONED.rule,
      CREDENTIALS_DEEPER.rule,
      ...[...this.#denyFirst, ...this.#floor, ...this.#rest].map((r) => r.decision.rule),
      this.#fallback.rule,
    ];
  }
}
