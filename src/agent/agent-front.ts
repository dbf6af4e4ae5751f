/**
 * The Secrets Manager Agent's API on a listener of its own (`agent`), so code written for the agent
 * (or the Parameters and Secrets Lambda extension's Secrets Manager route) works unchanged:
 *   GET /ping                                   200 `healthy`, no token
 *   GET /secretsmanager/get?secretId=ID[&versionId=V][&versionStage=S][&refreshNow=true|false]
 *   GET /v1/ID[?versionId=V&versionStage=S&refreshNow=...]
 * answered with GetSecretValue's JSON from a read-through cache (core/agent). Refusals are the
 * agent's: X-Forwarded-For 400 `Forwarded`, a missing or wrong X-Aws-Parameters-Secrets-Token (or
 * X-Vault-Token) 403 `Bad Token`, another method 405 `Not allowed`, another path 404 `Not found`,
 * a bad query 400 naming the parameter; Secrets Manager's errors pass through as
 * `{"__type","message"}` with its status. Where the agent has one shared token, each token here is
 * a caller of its own, and its `names` decide which secrets it reads (else 400
 * AccessDeniedException, as Secrets Manager refuses one).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { AgentError, type SecretQuery } from '../core/agent/agent-answer.js';
import { SecretValueCache } from '../core/agent/secret-value-cache.js';
import { secretsManagerSource } from '../core/agent/secrets-manager-source.js';
import { pickRegion } from '../core/aws/base-credentials.js';
import { type ConnectionCaps, capsOf } from '../core/config/connection-limits.js';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import { TokenIndex } from '../core/crypto/secret-equal.js';
import { SidekeyError } from '../core/errors.js';
import { audit } from '../core/log/audit.js';
import { nameMatches } from '../core/secrets/name-pattern.js';
import { capConnections, HTTP_SERVER_TIMEOUTS, REFUSED_CONNECTIONS_HELP, REFUSED_CONNECTIONS_METRIC } from '../net/connection-limits.js';
import type { Front, FrontContext } from '../net/front.js';
import { close, listen } from '../net/http-listen.js';
import { requestDurations, timedRequests } from '../net/request-durations.js';

/** The agent's SSRF headers, in the order it checks them. */
export const AGENT_TOKEN_HEADERS = ['x-aws-parameters-secrets-token', 'x-vault-token'] as const;
const QUERY_PATH = '/secretsmanager/get';
const PATH_PREFIX = '/v1/';
const AGENT_CAPS: ConnectionCaps = { max: 1024, perSource: 256 };
const QUERY_PARAMS = new Set(['secretId', 'versionId', 'versionStage', 'refreshNow']);

interface AgentCaller {
  readonly id: string;
  readonly names: readonly string[];
}

/** GetSecretValue's inputs from either route; AgentError 400 naming what is wrong. */
export function parseAgentQuery(url: URL): { query: SecretQuery; refresh: boolean } | undefined {
  let secretId: string | undefined;
  if (url.pathname === QUERY_PATH) secretId = url.searchParams.get('secretId') ?? undefined;
  else if (url.pathname.startsWith(PATH_PREFIX)) {
    try {
      secretId = decodeURIComponent(url.pathname.slice(PATH_PREFIX.length)) || undefined;
    } catch {
      throw new AgentError(400, 'InvalidParameterException', 'malformed secret ID (a bad percent-escape)');
    }
  } else return undefined;
  for (const name of url.searchParams.keys()) {
    if (!QUERY_PARAMS.has(name) || (name === 'secretId' && url.pathname !== QUERY_PATH))
      throw new AgentError(400, 'InvalidParameterException', `unknown parameter: ${name}`);
  }
  if (secretId === undefined)
    throw new AgentError(
      400,
      'InvalidParameterException',
      url.pathname === QUERY_PATH ? 'missing parameter secretId' : 'missing secret ID',
    );
  const refreshText = url.searchParams.get('refreshNow');
  if (refreshText !== null && refreshText !== 'true' && refreshText !== 'false')
    throw new AgentError(400, 'InvalidParameterException', 'invalid refreshNow value');
  return {
    query: {
      secretId,
      versionId: url.searchParams.get('versionId') ?? undefined,
      versionStage: url.searchParams.get('versionStage') ?? undefined,
    },
    refresh: refreshText === 'true',
  };
}

export function createAgentFront(ctx: FrontContext): Front & { address(): ListenAddress | undefined } {
  const config = ctx.loaded.config.agent;
  if (!config) throw new SidekeyError('CONFIG_INVALID', 'the agent front needs an agent section');
  const callers = new TokenIndex<AgentCaller>(config.tokens.map((t) => [t.token, { id: t.id, names: t.names }] as const));
  const source = secretsManagerSource({
    region: pickRegion(config.region, ctx.loaded.config.aws_defaults?.region),
    credentials: ctx.broker.baseCredentials(),
  });
  const cache = new SecretValueCache((query) => source.fetch(query), config.ttl_seconds * 1000);
  let server: Server | undefined;
  let bound: ListenAddress | undefined;

  const send = (res: ServerResponse, status: number, body: string) => {
    res.writeHead(status, { 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://agent');
    } catch {
      return send(res, 400, new AgentError(400, 'InvalidParameterException', 'malformed request target').body());
    }
    if (url.pathname === '/ping') return send(res, 200, 'healthy');
    if (req.headers['x-forwarded-for'] !== undefined) return send(res, 400, 'Forwarded');
    const presented = AGENT_TOKEN_HEADERS.map((h) => req.headers[h]).find((v) => typeof v === 'string');
    const caller = callers.find(typeof presented === 'string' ? presented : undefined);
    if (!caller) return send(res, 403, 'Bad Token');
    if (req.method !== 'GET') return send(res, 405, 'Not allowed');
    try {
      const parsed = parseAgentQuery(url);
      if (!parsed) return send(res, 404, 'Not found');
      const { query, refresh } = parsed;
      if (!caller.names.some((p) => nameMatches(p, query.secretId))) {
        audit(ctx.logger, 'agent.denied', { actor: caller.id, secret: query.secretId });
        throw new AgentError(
          400,
          'AccessDeniedException',
          `token "${caller.id}" may not read secret "${query.secretId}" (its names: ${caller.names.join(', ')})`,
        );
      }
      const body = await cache.get(query, refresh);
      audit(ctx.logger, 'agent.fetch', { actor: caller.id, secret: query.secretId, outcome: 'ok' });
      send(res, 200, body);
    } catch (error) {
      const e = error instanceof AgentError ? error : new AgentError(500, 'InternalFailure', '');
      if (!(error instanceof AgentError))
        ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'agent request failed');
      send(res, e.status, e.body());
    }
  };

  return {
    name: 'agent',
    address: () => bound,
    addresses: () => (bound ? [bound] : []),
    async start() {
      // A failure past the handler's own catch is logged and answered; it never becomes an
      // unhandled rejection, which would stop the daemon.
      const handle = (req: IncomingMessage, res: ServerResponse) => {
        answer(req, res).catch((error: unknown) => {
          ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'agent request failed');
          if (!res.headersSent) send(res, 500, new AgentError(500, 'InternalFailure', '').body());
        });
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
        { listen: formatListenAddress(bound), tokens: config.tokens.length, ttl_seconds: config.ttl_seconds },
        'secrets agent API up',
      );
    },
    async stop(drainMs) {
      if (server) await close(server, drainMs);
      source.close();
    },
  };
}
