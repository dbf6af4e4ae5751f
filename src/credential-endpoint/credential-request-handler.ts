/**
 * Answers one request to the credential endpoint. Order of checks: relayed requests and foreign
 * Host names are refused first (SSRF, DNS rebinding), then path and method, then the token
 * (constant time; a miss says nothing about which services exist), then the service's rate limit,
 * then the cache. Every request ends in exactly one audit line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { ListenAddress } from '../core/config/listen-address.js';
import type { CredentialBroker, ServiceCredentials } from '../core/credentials/credential-broker.js';
import { type ErrorKind, isSidekeyError } from '../core/errors.js';
import { audit, auditLine, auditLogger } from '../core/log/audit.js';
import { type Logger, serializeError } from '../core/log/logger.js';
import type { Counter } from '../core/metrics/metrics-registry.js';
import { seriesBy } from '../core/metrics/series-by.js';
import { sendError, sendErrorKind } from '../net/error-reply.js';
import { sendJson } from '../net/json-reply.js';
import { guardedHeaders, hostHeaderAllowed } from '../net/request-guards.js';
import { splitTarget } from '../net/request-target.js';
import { rfc3339, sendCredentials } from './credentials-response.js';
import { type ServiceRateLimits, TokenBucket } from './token-bucket.js';

export const CREDENTIALS_PATH = '/v1/credentials';
/** CredProxy's health path on the endpoint port, kept so existing container health checks work. */
export const HEALTH_PATH = '/health';
/** The one message for a missing or wrong token: it must not say whether any service exists. */
export const UNAUTHORIZED_MESSAGE = 'missing or invalid authorization token';
/**
 * Longest a request waits on an STS call before it is answered 503: under the 1 s the JS SDK's
 * container providers wait (botocore waits 2 s), so the caller gets an answer it retries, not a
 * timeout. The fetch goes on; the next attempt is served from the cache.
 */
export const COLD_ANSWER_MS = 900;
/** The Retry-After of that 503, in seconds. */
export const COLD_RETRY_AFTER_SECONDS = 1;
const COLD_ANSWER_MESSAGE = 'credentials are being fetched from STS; retry in a second';
/** A token sent as `Bearer <token>`: the container-credentials protocol sends the token alone. */
const BEARER_PREFIX = /^bearer\s/i;
export const BEARER_MESSAGE =
  'missing or invalid authorization token: send the token alone in the Authorization header, without "Bearer " (AWS_CONTAINER_AUTHORIZATION_TOKEN holds the bare token, as the SDKs send it)';
/** Refused-token requests logged one by one per second (twice that in a burst); the rest are summed up. */
export const UNAUTHORIZED_LOG_RATE = 20;
/** The audit event every request ends in. */
export const AUDIT_EVENT = 'credentials.request';

/** One listener as the handler sees it: the bound address and the Host names it answers to. */
export interface ListenerState {
  /** Set once bound (the real port when 0 was configured). */
  address: ListenAddress;
  hosts: ReadonlySet<string>;
}

export interface HandlerDeps {
  readonly broker: CredentialBroker;
  readonly logger: Logger;
  readonly limits: ServiceRateLimits;
  readonly requests: Counter;
  readonly logHealthChecks: () => boolean;
}

type Outcome = 'ok' | 'unauthorized' | 'rate_limited' | 'disabled' | 'unavailable' | 'refused' | 'not_found' | 'method' | 'error';

export function createCredentialRequestHandler(
  deps: HandlerDeps,
): (req: IncomingMessage, res: ServerResponse, listener: ListenerState) => void {
  const { broker, logger, limits, requests } = deps;

  /** Counter series by service ('' before a token matched) and outcome, their label keys built once. */
  const series = seriesBy((service: string) => seriesBy((outcome: Outcome) => requests.labels({ service, outcome })));
  const count = (service: string, outcome: Outcome) => series(service)(outcome).inc();

  /**
   * What every successful answer with one set of credentials logs besides the caller: serialized
   * once per set (a child logger's bindings), so the hot path writes three fields, not eight.
   */
  const served = new WeakMap<ServiceCredentials, { readonly service: string; readonly events: Logger }>();
  const servedEvents = (service: string, c: ServiceCredentials): Logger => {
    const known = served.get(c);
    if (known?.service === service) return known.events;
    const events = auditLogger(logger, AUDIT_EVENT, {
      service,
      roleArn: c.roleArn,
      sessionName: c.sessionName,
      ...(c.sourceIdentity ? { sourceIdentity: c.sourceIdentity } : {}),
      expiration: rfc3339(c.expiration),
    });
    served.set(c, { service, events });
    return events;
  };

  const finish = (req: IncomingMessage, outcome: Outcome, status: number, service?: string, c?: ServiceCredentials) => {
    count(service ?? '', outcome);
    const caller = req.socket.remoteAddress ?? 'unix';
    if (service !== undefined && c) return auditLine(servedEvents(service, c), AUDIT_EVENT, { caller, outcome, status });
    const fields: Record<string, unknown> = { caller, outcome, status };
    if (service !== undefined) {
      fields.service = service;
      fields.roleArn = broker.roleArn(service);
    }
    audit(logger, AUDIT_EVENT, fields);
  };

  /**
   * Refused tokens are logged at most UNAUTHORIZED_LOG_RATE lines a second (a burst of twice
   * that); past it one line a second says how many went unlogged. The metric counts every one.
   * They are not slowed down: a 32-character random token cannot be guessed at any rate, and a
   * 401 costs no more than a 429 would.
   */
  const unauthorizedLines = new TokenBucket({ per_second: UNAUTHORIZED_LOG_RATE, burst: 2 * UNAUTHORIZED_LOG_RATE });
  let unlogged = 0;
  let lastSummary = Number.NEGATIVE_INFINITY;
  const refuseToken = (req: IncomingMessage, res: ServerResponse, authorization: string | undefined) => {
    // Says nothing of the token itself: only that the header has the one form SDKs never send.
    const message = authorization !== undefined && BEARER_PREFIX.test(authorization) ? BEARER_MESSAGE : UNAUTHORIZED_MESSAGE;
    if (unauthorizedLines.take()) return fail(req, res, 'UNAUTHORIZED', message, 'unauthorized');
    sendErrorKind(res, 'UNAUTHORIZED', message, 'aws');
    count('', 'unauthorized');
    unlogged += 1;
    const now = performance.now();
    if (now - lastSummary >= 1000) {
      logger.warn(
        { outcome: 'unauthorized', unlogged },
        'refused-token requests beyond the log rate were answered 401 and not logged one by one',
      );
      unlogged = 0;
      lastSummary = now;
    }
  };

  const fail = (
    req: IncomingMessage,
    res: ServerResponse,
    kind: ErrorKind,
    message: string,
    outcome: Outcome,
    service?: string,
    headers?: Record<string, string>,
  ) => {
    const status = sendErrorKind(res, kind, message, 'aws', kind === 'METHOD_NOT_ALLOWED' ? { ...headers, allow: 'GET' } : headers);
    finish(req, outcome, status, service);
  };

  const failFromError = (req: IncomingMessage, res: ServerResponse, error: unknown, service: string) => {
    if (isSidekeyError(error, 'CREDENTIALS_UNAVAILABLE')) {
      const retry = error.details?.retryAfterSeconds;
      const headers: Record<string, string> = typeof retry === 'number' ? { 'retry-after': String(retry) } : {};
      return fail(req, res, 'CREDENTIALS_UNAVAILABLE', error.message, 'unavailable', service, headers);
    }
    if (isSidekeyError(error, 'SERVICE_DISABLED')) return fail(req, res, 'SERVICE_DISABLED', error.message, 'disabled', service);
    // A token matched but the service vanished in a reload between authenticate() and get().
    if (isSidekeyError(error, 'NOT_FOUND')) return fail(req, res, 'UNAUTHORIZED', UNAUTHORIZED_MESSAGE, 'unauthorized');
    logger.error({ err: serializeError(error), service }, 'credential request failed');
    finish(req, 'error', sendError(res, error, 'aws'), service);
  };

  return (req, res, listener) => {
    const headers = guardedHeaders(req);
    if (headers.forwarded)
      return fail(req, res, 'FORWARDED_REFUSED', `requests relayed by a proxy (${headers.forwarded}) are refused`, 'refused');
    if (!hostHeaderAllowed(headers.host, listener.address, listener.hosts))
      return fail(req, res, 'HOST_REFUSED', 'the Host header does not name this endpoint', 'refused');
    const { path } = splitTarget(req.url ?? '/');
    if (path === HEALTH_PATH && req.method === 'GET') {
      if (deps.logHealthChecks()) logger.info({ caller: req.socket.remoteAddress }, 'health check');
      return sendJson(res, 200, { status: 'ok' });
    }
    if (path !== CREDENTIALS_PATH)
      return fail(req, res, 'NOT_FOUND', `no such path; credentials are served at GET ${CREDENTIALS_PATH}`, 'not_found');
    if (req.method !== 'GET') return fail(req, res, 'METHOD_NOT_ALLOWED', `${CREDENTIALS_PATH} answers GET only`, 'method');

    const service = broker.authenticate(headers.authorization);
    if (service === undefined) return refuseToken(req, res, headers.authorization);
    // Held credentials are served whatever the rate: the SDKs do not retry a 429, so refusing one
    // would fail the caller's AWS call while answering it costs nothing upstream. The limit is for
    // requests that would wait on STS.
    const cached = broker.peek?.(service);
    if (cached) {
      sendCredentials(res, cached);
      return finish(req, 'ok', 200, service, cached);
    }
    const bucket = limits.bucket(service);
    if (!bucket.take()) {
      const headers = { 'retry-after': String(bucket.retryAfterSeconds()) };
      return fail(req, res, 'RATE_LIMITED', 'too many requests for this service; slow down', 'rate_limited', service, headers);
    }
    // A request that must wait on STS is answered within the SDKs' own timeout: with the
    // credentials, or with a retryable 503 while the fetch goes on for the next attempt.
    let answered = false;
    const timer = setTimeout(() => {
      answered = true;
      fail(req, res, 'CREDENTIALS_UNAVAILABLE', COLD_ANSWER_MESSAGE, 'unavailable', service, {
        'retry-after': String(COLD_RETRY_AFTER_SECONDS),
      });
    }, COLD_ANSWER_MS);
    broker.get(service).then(
      (credentials) => {
        clearTimeout(timer);
        if (answered) return;
        sendCredentials(res, credentials);
        finish(req, 'ok', 200, service, credentials);
      },
      (error: unknown) => {
        clearTimeout(timer);
        if (!answered) failFromError(req, res, error, service);
      },
    );
  };
}
