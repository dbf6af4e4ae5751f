/**
 * What the guard decides from a request's method and raw target alone, remembered per exact raw
 * target: canonicalization and rule matching then run once per distinct target, not once per
 * request (a flood of denied requests repeats one target). The key is the target exactly as sent
 * (latin1: one character per byte) under its method, so two spellings never share a verdict: an
 * ambiguous spelling is its own key and its own refusal. The verdict holds only what cannot change
 * while the policy stands; header checks (forwarding headers, tokens, the token TTL) still run on
 * every request, in the handler. A policy reload builds a new GuardState, so a new cache.
 */
import { type CanonicalTarget, canonicalizeTarget } from '../core/imds/canonical-target.js';
import type { ImdsPolicy } from '../core/imds/imds-policy.js';
import { TOKEN_PATH_KEY } from '../core/imds/imds-presets.js';
import { TOKEN_HEADER } from '../core/imds/token-headers.js';
import { isCallerCredentialsPath } from './caller-credentials.js';
import { errorReply, type GuardReply } from './guard-reply.js';

/** Most raw targets remembered per method; when full the map starts over (a flood of distinct targets only costs speed). */
export const MAX_CACHED_TARGETS = 1024;
/** Longest raw target remembered, in bytes: IMDS paths are short; longer ones are decided every time. */
export const MAX_CACHED_TARGET_BYTES = 256;
/** The methods whose verdicts are remembered: the ones the guard serves (others are refused before). */
const CACHED_METHODS = ['GET', 'HEAD', 'PUT'] as const;

/** The target is refused whatever the headers say (ambiguous spelling, or PUT off the token path). */
export interface TargetRefused {
  readonly refusal: GuardReply;
}

/** The target is canonical: what the policy says about it, replies built once. */
export interface TargetDecided {
  readonly refusal: undefined;
  readonly target: CanonicalTarget;
  /** A config deny rule matched (checked before the per-caller mode). */
  readonly configDeny: GuardReply | undefined;
  /** The 401 for a request without a token, when the config requires tokens. */
  readonly tokenRequired: GuardReply | undefined;
  /** One of the credential paths the per-caller mode answers itself. */
  readonly callerPath: boolean;
  /** The policy denies the path. */
  readonly policyDeny: GuardReply | undefined;
  /** The allow rule, when the policy allows it. */
  readonly allowRule: string;
}

export type TargetVerdict = TargetRefused | TargetDecided;

/** Decides a target from scratch (what the cache remembers). */
export function decideTarget(policy: ImdsPolicy, requireToken: boolean, method: string, raw: string): TargetVerdict {
  const target = canonicalizeTarget(raw);
  if (!target.ok) {
    return {
      refusal: errorReply('IMDS_AMBIGUOUS_REQUEST', `ambiguous request target (${target.reason})`, {
        decision: 'refuse',
        rule: `canonical:${target.reason}`,
      }),
    };
  }
  const path = target.path;
  if (method === 'PUT' && target.key !== TOKEN_PATH_KEY) {
    return {
      refusal: errorReply('IMDS_AMBIGUOUS_REQUEST', 'PUT is served only for /latest/api/token', {
        decision: 'refuse',
        rule: 'method',
        path,
      }),
    };
  }
  const denied = policy.configDeny(target);
  const decision = policy.decide(target);
  return {
    refusal: undefined,
    target,
    configDeny: denied && errorReply('IMDS_DENIED', `denied by rule ${denied.rule}`, { decision: 'deny', rule: denied.rule, path }),
    tokenRequired: requireToken
      ? errorReply('UNAUTHORIZED', `a token is required (PUT /latest/api/token, then send ${TOKEN_HEADER})`, {
          decision: 'refuse',
          rule: 'token:required',
          path,
        })
      : undefined,
    callerPath: isCallerCredentialsPath(target),
    policyDeny:
      decision.effect === 'deny'
        ? errorReply('IMDS_DENIED', `denied by rule ${decision.rule}`, { decision: 'deny', rule: decision.rule, path })
        : undefined,
    allowRule: decision.rule,
  };
}

export class TargetVerdicts {
  readonly #policy: ImdsPolicy;
  readonly #requireToken: boolean;
  readonly #byMethod = new Map<string, Map<string, TargetVerdict>>();

  constructor(policy: ImdsPolicy, requireToken: boolean) {
    this.#policy = policy;
    this.#requireToken = requireToken;
    for (const method of CACHED_METHODS) this.#byMethod.set(method, new Map());
  }

  /** The verdict for `raw` under `method`, from the cache when this exact target was seen before. */
  get(method: string, raw: string): TargetVerdict {
    const cache = this.#byMethod.get(method);
    if (cache === undefined || raw.length > MAX_CACHED_TARGET_BYTES) return decideTarget(this.#policy, this.#requireToken, method, raw);
    let verdict = cache.get(raw);
    if (verdict === undefined) {
      verdict = decideTarget(this.#policy, this.#requireToken, method, raw);
      if (cache.size >= MAX_CACHED_TARGETS) cache.clear();
      cache.set(raw, verdict);
    }
    return verdict;
  }

  /** Targets remembered, over all methods (tests). */
  get size(): number {
    let size = 0;
    for (const cache of this.#byMethod.values()) size += cache.size;
    return size;
  }
}
