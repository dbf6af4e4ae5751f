/**
 * One request through the guard, in order: refuse what is malformed or ambiguous (400), relayed
 * (403) or badly tokened (400); canonicalize; config deny rules; the per-caller mode; the policy;
 * the token requirement (401); then the metadata service, through the static cache where allowed.
 */
import type { CredentialBroker } from '../core/credentials/credential-broker.js';
import type { CanonicalTarget } from '../core/imds/canonical-target.js';
import type { ImdsPolicy } from '../core/imds/imds-policy.js';
import { TOKEN_PATH_KEY } from '../core/imds/imds-presets.js';
import type { TokenBindings } from '../core/imds/token-bindings.js';
import {
  isTokenHeaderRefusal,
  MAX_TOKEN_TTL_SECONDS,
  MIN_TOKEN_TTL_SECONDS,
  readTokenHeaders,
  TOKEN_HEADER,
  TOKEN_HEADER_PROBLEMS,
  TOKEN_TTL_HEADER,
  type TokenHeaders,
  ttlInRange,
} from '../core/imds/token-headers.js';
import { FORWARDING_HEADERS } from '../net/request-guards.js';
import { answerCallerCredentials } from './caller-credentials.js';
import { type CallerMap, plainAddress } from './caller-map.js';
import { errorReply, type GuardReply } from './guard-reply.js';
import { filterListing, isListingTarget } from './listing-filter.js';
import type { RequestHead } from './request-head.js';
import type { StaticCache } from './static-cache.js';
import type { TargetVerdicts } from './target-verdicts.js';
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
  /** Verdicts by method and exact raw target, for this policy. */
  readonly verdicts: TargetVerdicts;
}

export interface HandlerDeps {
  readonly state: GuardState;
  readonly tokens: TokenBindings;
  readonly broker: CredentialBroker;
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
    const rule = `header:${tokenHeaders.header}:${tokenHeaders.problem}`;
    return errorReply('IMDS_AMBIGUOUS_REQUEST', `${tokenHeaders.header} ${TOKEN_HEADER_PROBLEMS[tokenHeaders.problem]} (rule ${rule})`, {
      decision: 'refuse',
      rule,
    });
  }
  // Everything the method and raw target alone decide, remembered per exact target (target-verdicts.ts).
  const verdict = state.verdicts.get(head.method, head.target);
  if (verdict.refusal !== undefined) return verdict.refusal;
  const { target } = verdict;
  const isTokenRequest = head.method === 'PUT';
  if (isTokenRequest && (tokenHeaders.ttlSeconds === undefined || !ttlInRange(tokenHeaders.ttlSeconds))) {
    const sent = tokenHeaders.ttlSeconds === undefined ? 'is missing' : TOKEN_HEADER_PROBLEMS['out-of-range'];
    return errorReply(
      'IMDS_AMBIGUOUS_REQUEST',
      `${TOKEN_TTL_HEADER} ${sent}: a token PUT needs ${MIN_TOKEN_TTL_SECONDS} to ${MAX_TOKEN_TTL_SECONDS} seconds (rule token:ttl)`,
      {
        decision: 'refuse',
        rule: 'token:ttl',
        path: target.path,
      },
    );
  }
  if (verdict.configDeny !== undefined) return verdict.configDeny;
  if (verdict.tokenRequired !== undefined && !isTokenRequest && tokenHeaders.token === undefined) return verdict.tokenRequired;
  if (state.callers.size > 0 && verdict.callerPath) {
    const caller = state.callers.lookup(remote);
    return answerCallerCredentials({ target, caller, remote, token: tokenHeaders.token }, deps.broker, deps.tokens);
  }
  if (verdict.policyDeny !== undefined) return verdict.policyDeny;
  return forward(head, remote, deps, target, tokenHeaders, verdict.allowRule);
}

/**
 * Whether a GET of `path` from `remote` would be relayed or answered rather than refused: what a
 * listing may advertise to that caller. Decided by the same verdicts a request gets.
 */
function mayRead(state: GuardState, remote: string | undefined, path: string): boolean {
  const verdict = state.verdicts.get('GET', path);
  if (verdict.refusal !== undefined || verdict.configDeny !== undefined) return false;
  if (verdict.callerPath && state.callers.size > 0) return state.callers.lookup(remote) !== undefined;
  return verdict.policyDeny === undefined;
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
  const userAgent = head.userAgent;
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
    const listed = (answer: UpstreamAnswer) =>
      head.method === 'GET' && isListingTarget(target) ? filterListing(answer, target, (child) => mayRead(state, remote, child)) : answer;
    if (head.method !== 'GET' || tokenClass === undefined || !state.cache.enabled || target.key === TOKEN_PATH_KEY)
      return relay(listed(await send()), facts);
    const { answer, hit } = await state.cache.fetch(`${tokenClass} ${path}`, send);
    return relay(listed(answer), facts, hit ? 'hit' : 'miss');
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return {
      ...errorReply('UPSTREAM_FAILED', 'the metadata service did not answer', { decision: 'error', rule: 'upstream', path }),
      detail,
    };
  }
}
