/**
 * The Secrets Manager Agent's API and the Parameters and Secrets Lambda extension's, on a listener
 * of their own (`agent`), so code written for either works unchanged:
 *   GET /ping                                   200 `healthy`, no token
 *   GET /secretsmanager/get?secretId=ID[&versionId=V][&versionStage=S][&refreshNow=true|false]
 *   GET /v1/ID[?versionId=V&versionStage=S&refreshNow=...]
 *   GET /systemsmanager/parameters/get?name=NAME[&version=N|&label=L][&withDecryption=true]
 *   GET /systemsmanager/parameters/get-by-path?path=/P/[&recursive=true][&withDecryption=true]
 *       (sidekey's own: the extension has no by-path route)
 * answered with GetSecretValue's, GetParameter's or GetParametersByPath's JSON from a read-through cache (core/agent).
 * Refusals are the agent's: X-Forwarded-For 400 `Forwarded`, a missing or wrong
 * X-Aws-Parameters-Secrets-Token (or X-Vault-Token) 403 `Bad Token`, another method 405
 * `Not allowed` (on /ping too), another path 404 `Not found`, a bad query 400 naming the parameter
 * in plain text; the source's errors pass through as `{"__type","message"}` with its status. Where the agent has one shared
 * token, each token here is a caller of its own: its `names` and `parameters` decide what it reads
 * (else 400 AccessDeniedException, as the services refuse one), and its `service`, when set, is
 * the role it reads as.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { AgentError, type SecretQuery } from '../core/agent/agent-answer.js';
import {
  type ParameterQuery,
  type ParameterStoreSource,
  type PathQuery,
  parameterStoreSource,
} from '../core/agent/parameter-store-source.js';
import { type SecretsManagerSource, secretsManagerSource } from '../core/agent/secrets-manager-source.js';
import { ValueCache } from '../core/agent/value-cache.js';
import { pickRegion } from '../core/aws/base-credentials.js';
import { type ConnectionCaps, capsOf } from '../core/config/connection-limits.js';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import { TokenIndex } from '../core/crypto/secret-equal.js';
import { SidekeyError } from '../core/errors.js';
import { audit, auditLine, auditLogger } from '../core/log/audit.js';
import type { Logger } from '../core/log/logger.js';
import { matchesAny } from '../core/secrets/name-pattern.js';
import { capConnections, HTTP_SERVER_TIMEOUTS, REFUSED_CONNECTIONS_HELP, REFUSED_CONNECTIONS_METRIC } from '../net/connection-limits.js';
import type { Front, FrontContext } from '../net/front.js';
import { close, listen } from '../net/http-listen.js';
import { requestDurations, timedRequests } from '../net/request-durations.js';
import { splitTarget } from '../net/request-target.js';

/** The agent's SSRF headers, in the order it checks them. */
export const AGENT_TOKEN_HEADERS = ['x-aws-parameters-secrets-token', 'x-vault-token'] as const;
const QUERY_PATH = '/secretsmanager/get';
const PATH_PREFIX = '/v1/';
const PARAMETER_PATH = '/systemsmanager/parameters/get';
/** The audit event of every answered read. */
const READ_EVENT = 'agent.fetch';
const AGENT_CAPS: ConnectionCaps = { max: 1024, perSource: 256 };
const PATH_ROUTE = '/systemsmanager/parameters/get-by-path';

interface AgentCaller {
  readonly id: string;
  readonly names: readonly string[];
  readonly parameters: readonly string[];
  /** The service whose role this caller reads as; '' for the daemon's own credentials. */
  readonly service: string;
  /** This caller's `agent.fetch` audit lines, its id bound once. */
  readonly reads: Logger;
}

/** A request's path and its query parameters, as sent (net/request-target.ts: no URL resolution). */
interface AgentTarget {
  readonly pathname: string;
  readonly searchParams: URLSearchParams;
}

/**
 * What one authenticated GET asks of the cache: its key, the call that fills it, whether the
 * caller forces a refresh, and the fields of the audit line its answer writes.
 */
interface Read {
  readonly key: string;
  readonly fetch: () => Promise<string>;
  readonly refresh: boolean;
  readonly audited: { readonly secret_id: string; readonly outcome: 'ok' } | { readonly parameter: string; readonly outcome: 'ok' };
}

interface Sources {
  readonly secrets: SecretsManagerSource;
  readonly parameters: ParameterStoreSource;
}

/** A query the agent cannot read: a 400 whose body is the message, as the agent answers. */
const invalid = (message: string) => AgentError.query(message);

/** What the agent reads of a request's headers. */
interface AgentHeaders {
  /** Whether X-Forwarded-For is present. */
  readonly forwarded: boolean;
  /**
   * The SSRF token header's value, else X-Vault-Token's; a repeated header's values are joined
   * with ", ", as node:http joins them.
   */
  readonly token: string | undefined;
}

const joined = (held: string | undefined, value: string) => (held === undefined ? value : `${held}, ${value}`);

/**
 * Those headers in one pass over `rawHeaders`, comparing names only when their length fits:
 * `req.headers` builds an object of every header on first use, which a cache hit need not pay for.
 */
function agentHeaders(req: IncomingMessage): AgentHeaders {
  const raw = req.rawHeaders;
  let forwarded = false;
  let ssrf: string | undefined;
  let vault: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    switch (name.length) {
      case 15:
        if (name.toLowerCase() === 'x-forwarded-for') forwarded = true;
        break;
      case AGENT_TOKEN_HEADERS[0].length:
        if (name.toLowerCase() === AGENT_TOKEN_HEADERS[0]) ssrf = joined(ssrf, value);
        break;
      case AGENT_TOKEN_HEADERS[1].length:
        if (name.toLowerCase() === AGENT_TOKEN_HEADERS[1]) vault = joined(vault, value);
        break;
    }
  }
  return { forwarded, token: ssrf ?? vault };
}

/** A NUL in a query value could make two queries share a cache key (its fields are NUL-separated). */
function withoutNul<T extends string | undefined>(name: string, value: T): T {
  if (value?.includes('\0')) throw invalid(`invalid ${name}: it contains a NUL character`);
  return value;
}

/** The agent's reading of a flag: `true` or `1`, `false` or `0`, in any case. */
function flagValue(name: string, text: string): boolean {
  switch (text.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw invalid(`invalid ${name} value`);
  }
}

const unknownParameter = (name: string) => invalid(`unknown parameter: ${name}`);

/*
 * Each route reads its query in one pass, in the query's order, as the agent's parser does: a name
 * the route does not know, or a flag that is not one, is refused where it stands, and a repeated
 * parameter's last value wins.
 */

/** GetSecretValue's inputs from either Secrets Manager route; AgentError 400 naming what is wrong. */
export function parseAgentQuery(url: AgentTarget): { query: SecretQuery; refresh: boolean } | undefined {
  const byQuery = url.pathname === QUERY_PATH;
  let secretId: string | undefined;
  if (!byQuery) {
    if (!url.pathname.startsWith(PATH_PREFIX)) return undefined;
    try {
      secretId = decodeURIComponent(url.pathname.slice(PATH_PREFIX.length)) || undefined;
    } catch {
      throw invalid('malformed secret ID (a bad percent-escape)');
    }
    if (secretId === undefined) throw invalid('missing secret ID');
  }
  let versionId: string | undefined;
  let versionStage: string | undefined;
  let refresh = false;
  for (const [name, value] of url.searchParams) {
    switch (name) {
      case 'secretId':
        // On the path route the path is the secret ID, and the agent knows no secretId there.
        if (!byQuery) throw unknownParameter(name);
        secretId = value;
        break;
      case 'versionId':
        versionId = value;
        break;
      case 'versionStage':
        versionStage = value;
        break;
      case 'refreshNow':
        refresh = flagValue(name, value);
        break;
      default:
        throw unknownParameter(name);
    }
  }
  if (!secretId) throw invalid('missing parameter secretId');
  return {
    query: {
      secretId: withoutNul('secretId', secretId),
      versionId: withoutNul('versionId', versionId),
      versionStage: withoutNul('versionStage', versionStage),
    },
    refresh,
  };
}

/** GetParameter's inputs from the extension's route: a version or label joins the name as its selector. */
export function parseParameterQuery(url: AgentTarget): { query: ParameterQuery; refresh: boolean } {
  let name: string | undefined;
  let version: string | undefined;
  let label: string | undefined;
  let withDecryption = false;
  let refresh = false;
  for (const [key, value] of url.searchParams) {
    switch (key) {
      case 'name':
        name = value;
        break;
      case 'version':
        version = value;
        break;
      case 'label':
        label = value;
        break;
      case 'withDecryption':
        withDecryption = flagValue(key, value);
        break;
      case 'refreshNow':
        refresh = flagValue(key, value);
        break;
      default:
        throw unknownParameter(key);
    }
  }
  if (!name) throw invalid('missing parameter name');
  if (!PARAMETER_NAME.test(name)) throw invalid('name may hold only letters, digits and _ . - / : (at most 2048)');
  if (version !== undefined && label !== undefined) throw invalid('version and label cannot both be given');
  if (version !== undefined && !/^[1-9][0-9]{0,9}$/.test(version)) throw invalid('version must be a positive whole number');
  if (label !== undefined && !/^[A-Za-z0-9_.-]{1,100}$/.test(label)) throw invalid('label must be 1 to 100 letters, digits, _ . or -');
  const selector = version ?? label;
  if (selector !== undefined && parameterName(name) !== name) throw invalid('name already has a :version or :label selector');
  return { query: { name: selector === undefined ? name : `${name}:${selector}`, withDecryption }, refresh };
}

/** GetParametersByPath's inputs from sidekey's by-path route. */
export function parsePathQuery(url: AgentTarget): { query: PathQuery; refresh: boolean } {
  let path: string | undefined;
  let recursive = false;
  let withDecryption = false;
  let refresh = false;
  for (const [key, value] of url.searchParams) {
    switch (key) {
      case 'path':
        path = value;
        break;
      case 'recursive':
        recursive = flagValue(key, value);
        break;
      case 'withDecryption':
        withDecryption = flagValue(key, value);
        break;
      case 'refreshNow':
        refresh = flagValue(key, value);
        break;
      default:
        throw unknownParameter(key);
    }
  }
  if (!path) throw invalid('missing parameter path');
  if (!/^\/[A-Za-z0-9/_.-]{0,2047}$/.test(path)) throw invalid('path must begin with / and hold only letters, digits, / _ . and -');
  return { query: { path, recursive, withDecryption }, refresh };
}

/** Whether a name pattern grants a whole path: `*`, or a prefix ending in `*` that the path lies under. */
export function patternCoversPath(pattern: string, path: string): boolean {
  if (pattern === '*') return true;
  if (!pattern.endsWith('*')) return false;
  const within = path.endsWith('/') ? path : `${path}/`;
  return within.startsWith(pattern.slice(0, -1));
}

/**
 * Parameter Store reads a Secrets Manager secret through GetParameter under this prefix (AWS's
 * "referencing Secrets Manager secrets from Parameter Store"), with the caller's own right to
 * the secret: a token's `parameters` must not read what its `names` keep from it.
 */
// Any case: a reference spelled otherwise is refused rather than trusted to name no secret.
const SECRET_REFERENCE = /^(?:arn:[^:]+:ssm:[^:]*:[^:]*:parameter)?\/aws\/reference\/secretsmanager\/(.*)$/i;
/**
 * What a parameter name (or ARN, with a selector) may hold. Parameter Store trims spaces from a
 * name, so a name it would read as another must not reach the pattern checks.
 */
const PARAMETER_NAME = /^[A-Za-z0-9_.\-/:]{1,2048}$/;

/** The Secrets Manager secret ID a parameter name refers to, if it is such a reference. */
export function referencedSecret(name: string): string | undefined {
  return SECRET_REFERENCE.exec(name)?.[1];
}

/** A parameter's name without its `:version` or `:label` selector (an ARN keeps its own colons). */
export function parameterName(name: string): string {
  const lastSlash = name.lastIndexOf('/');
  const colon = name.indexOf(':', lastSlash + 1);
  return colon === -1 || (lastSlash === -1 && name.startsWith('arn:')) ? name : name.slice(0, colon);
}

export function createAgentFront(ctx: FrontContext): Front & { address(): ListenAddress | undefined } {
  const config = ctx.loaded.config.agent;
  if (!config) throw new SidekeyError('CONFIG_INVALID', 'the agent front needs an agent section');
  const callersOf = (tokens: typeof config.tokens) =>
    new TokenIndex<AgentCaller>(
      tokens.map(
        (t) =>
          [
            t.token,
            {
              id: t.id,
              names: t.names,
              parameters: t.parameters,
              service: t.service ?? '',
              reads: auditLogger(ctx.logger, READ_EVENT, { actor: t.id }),
            },
          ] as const,
      ),
    );
  // Replaced on reload: tokens, their names, parameters and services take effect at once.
  let callers = callersOf(config.tokens);
  const region = pickRegion(config.region, ctx.loaded.config.aws_defaults?.region);
  // One pair of clients per identity, made when a caller first needs it.
  const sourcesBy = new Map<string, Sources>();
  const sourcesOf = (service: string): Sources => {
    let sources = sourcesBy.get(service);
    if (!sources) {
      const credentials: AwsCredentialIdentityProvider = service ? ctx.broker.serviceProvider(service) : ctx.broker.baseCredentials();
      sources = { secrets: secretsManagerSource({ region, credentials }), parameters: parameterStoreSource({ region, credentials }) };
      sourcesBy.set(service, sources);
    }
    return sources;
  };
  const stale = ctx.metrics.counter(
    'sidekey_agent_stale_answers_total',
    'agent answers served past their TTL because the source failed (stale-if-error)',
    ['source'],
  );
  const sourceCalls = ctx.metrics.counter(
    'sidekey_agent_source_calls_total',
    'calls the agent API made to Secrets Manager or Parameter Store',
    ['source', 'outcome'],
  );
  /** One counted call to a source. */
  const counted = (source: 'secretsmanager' | 'ssm', call: () => Promise<string>) => async () => {
    try {
      const body = await call();
      sourceCalls.inc({ source, outcome: 'ok' });
      return body;
    } catch (error) {
      sourceCalls.inc({ source, outcome: 'error' });
      throw error;
    }
  };
  const cache = new ValueCache({
    ttlMs: config.ttl_seconds * 1000,
    staleMs: config.stale_if_error_seconds * 1000,
    onStale: (key, error) => {
      const source = key.slice(0, key.indexOf('\0'));
      stale.inc({ source });
      ctx.logger.warn({ source, error: error.type, status: error.status }, 'agent source failed; serving the held answer');
    },
  });
  let server: Server | undefined;
  let bound: ListenAddress | undefined;

  const send = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  };

  const refuse = (caller: AgentCaller, kind: 'secret' | 'parameter', id: string, patterns: readonly string[]): never => {
    // `secret` is a field the logger redacts: the secret's id goes in `secret_id`.
    audit(ctx.logger, 'agent.denied', { actor: caller.id, [kind === 'secret' ? 'secret_id' : 'parameter']: id });
    const listed =
      patterns.length > 0 ? `its ${kind === 'secret' ? 'names' : 'parameters'}: ${patterns.join(', ')}` : `it lists no ${kind}s`;
    throw new AgentError(400, 'AccessDeniedException', `token "${caller.id}" may not read ${kind} "${id}" (${listed})`);
  };

  /** The read one authenticated GET asks for, by route; undefined for a path no route has. Refusals throw AgentError. */
  const readOf = (caller: AgentCaller, url: AgentTarget): Read | undefined => {
    if (url.pathname === PATH_ROUTE) {
      const { query, refresh } = parsePathQuery(url);
      if (!caller.parameters.some((p) => patternCoversPath(p, query.path))) refuse(caller, 'parameter', query.path, caller.parameters);
      const fetchPath = async () => {
        const all = JSON.parse(await sourcesOf(caller.service).parameters.fetchByPath(query)) as { Parameters: { Name?: string }[] };
        return JSON.stringify({
          Parameters: all.Parameters.filter((p) => {
            const name = p.Name ?? '';
            const secretId = referencedSecret(name);
            return matchesAny(caller.parameters, name) && (secretId === undefined || matchesAny(caller.names, secretId));
          }),
        });
      };
      return {
        // Each caller keeps its own answer: only the parameters its patterns name are in it.
        key: `ssm\0${caller.service}\0${caller.id}\0path\0${query.recursive}\0${query.withDecryption}\0${query.path}`,
        fetch: counted('ssm', fetchPath),
        refresh,
        audited: { parameter: `${query.path}*`, outcome: 'ok' },
      };
    }
    if (url.pathname === PARAMETER_PATH) {
      const { query, refresh } = parseParameterQuery(url);
      const bare = parameterName(query.name);
      if (!matchesAny(caller.parameters, bare)) refuse(caller, 'parameter', bare, caller.parameters);
      const secretId = referencedSecret(bare);
      if (secretId !== undefined && !matchesAny(caller.names, secretId)) refuse(caller, 'secret', secretId, caller.names);
      return {
        key: `ssm\0${caller.service}\0${query.withDecryption}\0${query.name}`,
        fetch: counted('ssm', () => sourcesOf(caller.service).parameters.fetch(query)),
        refresh,
        audited: { parameter: bare, outcome: 'ok' },
      };
    }
    const parsed = parseAgentQuery(url);
    if (!parsed) return undefined;
    const { query, refresh } = parsed;
    if (!matchesAny(caller.names, query.secretId)) refuse(caller, 'secret', query.secretId, caller.names);
    return {
      // No field holds a NUL (withoutNul), so the key is unambiguous; an empty version is no version, as the source sends it.
      key: `secretsmanager\0${caller.service}\0${query.versionId ?? ''}\0${query.versionStage ?? ''}\0${query.secretId}`,
      fetch: counted('secretsmanager', () => sourcesOf(caller.service).secrets.fetch(query)),
      refresh,
      audited: { secret_id: query.secretId, outcome: 'ok' },
    };
  };

  /** An answered read: its audit line under the caller, then the body. */
  const answered = (res: ServerResponse, caller: AgentCaller, read: Read, body: string) => {
    auditLine(caller.reads, READ_EVENT, read.audited);
    send(res, 200, body);
  };

  /**
   * Anything but a refusal or a source's error: logged, and answered with a 500 that says nothing
   * of itself if nothing was sent yet; never left unhandled (which would stop the daemon).
   */
  const unexpected = (res: ServerResponse, error: unknown) => {
    ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'agent request failed');
    if (!res.headersSent) send(res, 500, new AgentError(500, 'InternalFailure', '').body());
  };

  /** A refusal or a source's error, as the agent answers it; anything else is unexpected. */
  const failed = (res: ServerResponse, error: unknown) => {
    if (error instanceof AgentError) send(res, error.status, error.body());
    else unexpected(res, error);
  };

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const raw = req.url ?? '/';
    // Origin form only, taken as sent: the agent's router resolves no URL either.
    if (!raw.startsWith('/'))
      return send(res, 400, invalid('malformed request target: it must be a path, such as /secretsmanager/get').body());
    const target = splitTarget(raw);
    const url: AgentTarget = { pathname: target.path, searchParams: new URLSearchParams(target.query) };
    // The agent's health check needs no token, but is a GET like every other route.
    if (url.pathname === '/ping') return req.method === 'GET' ? send(res, 200, 'healthy') : send(res, 405, 'Not allowed');
    const headers = agentHeaders(req);
    if (headers.forwarded) return send(res, 400, 'Forwarded');
    const caller = callers.find(headers.token);
    if (!caller) return send(res, 403, 'Bad Token');
    if (req.method !== 'GET') return send(res, 405, 'Not allowed');
    let read: Read | undefined;
    try {
      read = readOf(caller, url);
    } catch (error) {
      return failed(res, error);
    }
    if (read === undefined) return send(res, 404, 'Not found');
    // A fresh answer is sent now; only a miss, a forced refresh or an expired answer waits on the source.
    const body = read.refresh ? undefined : cache.fresh(read.key, read.fetch);
    if (body !== undefined) return answered(res, caller, read, body);
    const asked = read;
    cache
      .get(asked.key, asked.fetch, asked.refresh)
      .then(
        (fetched) => answered(res, caller, asked, fetched),
        (error: unknown) => failed(res, error),
      )
      .catch((error: unknown) => unexpected(res, error));
  };

  return {
    name: 'agent',
    address: () => bound,
    addresses: () => (bound ? [bound] : []),
    async start() {
      const handle = (req: IncomingMessage, res: ServerResponse) => {
        try {
          answer(req, res);
        } catch (error) {
          unexpected(res, error);
        }
      };
      server = createServer(HTTP_SERVER_TIMEOUTS, timedRequests(requestDurations(ctx.metrics), 'agent', handle));
      const refused = ctx.metrics.counter(REFUSED_CONNECTIONS_METRIC, REFUSED_CONNECTIONS_HELP, ['front', 'reason']);
      capConnections(
        server,
        () => capsOf(undefined, AGENT_CAPS),
        (reason) => refused.inc({ front: 'agent', reason }),
      );
      bound = await listen(server, config.listen);
      ctx.logger.info(
        {
          listen: formatListenAddress(bound),
          tokens: config.tokens.length,
          ttl_seconds: config.ttl_seconds,
          stale_if_error_seconds: config.stale_if_error_seconds,
        },
        'secrets agent API up',
      );
    },
    async reload(next) {
      const agent = next.config.agent;
      if (!agent) {
        ctx.logger.warn('the agent section was removed: the agent API keeps running until restart');
        return;
      }
      callers = callersOf(agent.tokens);
      // Answers were read under the old tokens' patterns (a by-path answer holds what they named)
      // and the old services' roles: forget them, and what calls still under way bring back.
      cache.clear();
      const restartKeys = (['listen', 'ttl_seconds', 'stale_if_error_seconds', 'region'] as const).filter(
        (key) => JSON.stringify(agent[key]) !== JSON.stringify(config[key]),
      );
      if (restartKeys.length > 0)
        ctx.logger.warn({ keys: restartKeys.map((k) => `agent.${k}`) }, 'these agent keys take effect on restart');
    },
    async stop(drainMs) {
      if (server) await close(server, drainMs);
      for (const sources of sourcesBy.values()) {
        sources.secrets.close();
        sources.parameters.close();
      }
    },
  };
}
