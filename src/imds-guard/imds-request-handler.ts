/**
 * One request through the guard, in order: refuse what is malformed or ambiguous (400), relayed
 * (403) or badly tokened (400); canonicalize; config deny rules; the per-caller mode; the policy;
 * the token requirement (401); then the metadata service, through the static cache where allowed.
 */
import type { CredentialBroker } from '../core/credentials/credential-broker.js';
import { type CanonicalTarget, canonicalizeTarget } from '../core/imds/canonical-target.js';
import type { ImdsPolicy } from '../core/imds/imds-policy.js';
import { TOKEN_PATH_KEY } from '../core/imds/imds-presets.js';
import type { TokenBindings } from '../core/imds/token-bindings.js';
import {
  isTokenHeaderRefusal,
  MAX_TOKEN_TTL_SECONDS,
  MIN_TOKEN_TTL_SECONDS,
  readTokenHeaders,
  TOKEN_HEADER,
  TOKEN_TTL_HEADER,
  type TokenHeaders,
  ttlInRange,
} from '../core/imds/token-headers.js';
import { FORWARDING_HEADERS } from '../net/request-guards.js';
import { answerCallerCredentials, isCallerCredentialsPath } from './caller-credentials.js';
import { type CallerMap, plainAddress } from './caller-map.js';
import { errorReply, type GuardReply } from './guard-reply.js';
import { headerValue, type RequestHead } from './request-head.js';
import type { StaticCache } from './static-cache.js';
import type { UpstreamAnswer, UpstreamClient } from './upstream-client.js';

/** The methods IMDS serves; PUT only for the token endpoint. */
const METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'PUT']);

/** Everything one config yields; replaced as a whole on reload. */
export interface GuardState {
  readonly policy: ImdsPolicy;
  readonly callers: CallerMap;
  readonly cache: StaticCache;
  readonly upstream: UpstreamClient;
  readonly requireToken: boolean;
}

export interface HandlerDeps {
  readonly state: GuardState;
  readonly tokens: TokenBindings;
  readonly credentials: CredentialBroker;
}

const relay = (answer: UpstreamAnswer, facts: Pick<GuardReply, 'decision' | 'rule' | 'path'>, cache?: 'hit' | 'miss'): GuardReply => ({
  ...facts,
  status: answer.status,
  headers: answer.headers,
  body: answer.body,
  ...(cache ? { cache } : {}),
});

/**
 * Refusals and denials are answered synchronously (no promise, no microtask hop: a flood of denied
 * requests is the case that must stay cheap); what needs the metadata service or the credential
 * broker returns a promise.
 */
export function handleImdsRequest(head: RequestHead, remote: string | undefined, deps: HandlerDeps): GuardReply | Promise<GuardReply> {
  const { state } = deps;
  if (!METHODS.has(head.method)) {
    return errorReply('IMDS_AMBIGUOUS_REQUEST', `method ${head.method} is not served here`, { decision: 'refuse', rule: 'method' });
  }
  const forwarded = forwardingHeader(head);
  if (forwarded) {
    return errorReply('FORWARDED_REFUSED', `requests carrying ${forwarded} are refused`, {
      decision: 'refuse',
      rule: `header:${forwarded}`,
    });
  }
  const tokenHeaders = readTokenHeaders(head.headers);
  if (isTokenHeaderRefusal(tokenHeaders)) {
    return errorReply('IMDS_AMBIGUOUS_REQUEST', `${tokenHeaders.header}: ${tokenHeaders.problem} value refused`, {
      decision: 'refuse',
      rule: `header:${tokenHeaders.header}:${tokenHeaders.problem}`,
    });
  }
  const target = canonicalizeTarget(head.target);
  if (!target.ok) {
    return errorReply('IMDS_AMBIGUOUS_REQUEST', `ambiguous request target (${target.reason})`, {
      decision: 'refuse',
      rule: `canonical:${target.reason}`,
    });
  }
  const path = target.path;
  const isTokenRequest = head.method === 'PUT';
  if (isTokenRequest && target.key !== TOKEN_PATH_KEY) {
    return errorReply('IMDS_AMBIGUOUS_REQUEST', 'PUT is served only for /latest/api/token', { decision: 'refuse', rule: 'method', path });
  }
  if (isTokenRequest && (tokenHeaders.ttlSeconds === undefined || !ttlInRange(tokenHeaders.ttlSeconds))) {
    return errorReply('IMDS_AMBIGUOUS_REQUEST', `${TOKEN_TTL_HEADER} must be ${MIN_TOKEN_TTL_SECONDS} to ${MAX_TOKEN_TTL_SECONDS}`, {
      decision: 'refuse',
      rule: 'token:ttl',
      path,
    });
  }
  const denied = state.policy.configDeny(target);
  if (denied) return errorReply('IMDS_DENIED', `denied by rule ${denied.rule}`, { decision: 'deny', rule: denied.rule, path });
  if (state.requireToken && !isTokenRequest && tokenHeaders.token === undefined) {
    return errorReply('UNAUTHORIZED', `a token is required (PUT /latest/api/token, then send ${TOKEN_HEADER})`, {
      decision: 'refuse',
      rule: 'token:required',
      path,
    });
  }
  if (state.callers.size > 0 && isCallerCredentialsPath(target)) {
    const caller = state.callers.lookup(remote);
    return answerCallerCredentials({ target, caller, remote, token: tokenHeaders.token }, deps.credentials, deps.tokens);
  }
  const decision = state.policy.decide(target);
  if (decision.effect === 'deny')
    return errorReply('IMDS_DENIED', `denied by rule ${decision.rule}`, { decision: 'deny', rule: decision.rule, path });

  return forward(head, remote, deps, target, tokenHeaders, decision.rule);
}

/** The first forwarding header present (FORWARDING_HEADERS order), without a closure per header. */
function forwardingHeader(head: RequestHead): string | undefined {
  for (const name of FORWARDING_HEADERS) {
    for (const [n] of head.headers) if (n === name) return name;
  }
  return undefined;
}

async function forward(
  head: RequestHead,
  remote: string | undefined,
  deps: HandlerDeps,
  target: CanonicalTarget,
  tokenHeaders: TokenHeaders,
  rule: string,
): Promise<GuardReply> {
  const { state } = deps;
  const path = target.path;
  const isTokenRequest = head.method === 'PUT';
  const upstreamHeaders: Record<string, string> = {};
  const userAgent = headerValue(head, 'user-agent');
  if (userAgent !== undefined) upstreamHeaders['user-agent'] = userAgent;
  if (tokenHeaders.token !== undefined) upstreamHeaders[TOKEN_HEADER] = tokenHeaders.token;
  if (isTokenRequest) upstreamHeaders[TOKEN_TTL_HEADER] = String(tokenHeaders.ttlSeconds);
  const facts = { decision: 'allow', rule, path } as const;
  const send = () => state.upstream.send(head.method, path, upstreamHeaders);
  try {
    if (isTokenRequest) {
      const answer = await send();
      if (answer.status === 200 && tokenHeaders.ttlSeconds !== undefined) {
        const address = plainAddress(remote ?? '');
        deps.tokens.record(answer.body.toString('latin1').trim(), address, state.callers.lookup(address)?.service, tokenHeaders.ttlSeconds);
      }
      return relay(answer, facts);
    }
    // Cached answers serve only requests the upstream would answer the same way: no token (when
    // the tokenless answer was cached) or a token the guard issued and that has not expired.
    const token = tokenHeaders.token;
    const tokenClass = token === undefined ? 'v1' : deps.tokens.lookup(token) ? 'v2' : undefined;
    if (head.method !== 'GET' || tokenClass === undefined || !state.cache.enabled || target.key === TOKEN_PATH_KEY)
      return relay(await send(), facts);
    const { answer, hit } = await state.cache.fetch(`${tokenClass} ${path}`, send);
    return relay(answer, facts, hit ? 'hit' : 'miss');
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ...errorReply('UPSTREAM_FAILED', 'the metadata service did not answer', { decision: 'error', rule: 'upstream', path }),
      detail,
    };
  }
}
