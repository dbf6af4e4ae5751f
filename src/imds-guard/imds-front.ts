/**
 * The metadata guard front: a filtering proxy in front of IMDS, default 127.0.0.1:8169.
 * Fail closed: the policy is compiled before the listener opens, so nothing reaches the metadata
 * service before the policy is loaded; a reload that does not compile keeps the running policy.
 */
import { createServer, type Server } from 'node:net';
import { capsOf, IMDS_GUARD_CAPS } from '../core/config/connection-limits.js';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import type { ImdsConfig } from '../core/config/sections/imds-section.js';
import { SidekeyError } from '../core/errors.js';
import { ImdsPolicy } from '../core/imds/imds-policy.js';
import { TokenBindings } from '../core/imds/token-bindings.js';
import { loadTokenBindings, saveTokenBindings } from '../core/imds/token-bindings-file.js';
import { serializeError } from '../core/log/logger.js';
import { capConnections, REFUSED_CONNECTIONS_HELP, REFUSED_CONNECTIONS_METRIC } from '../net/connection-limits.js';
import type { Front, FrontContext } from '../net/front.js';
import { listen } from '../net/http-listen.js';
import { AccessLog } from './access-log.js';
import { CallerMap } from './caller-map.js';
import { GuardConnection, IdleSweeps } from './guard-connection.js';
import { type GuardState, type HandlerDeps, handleImdsRequest } from './imds-request-handler.js';
import { StaticCache } from './static-cache.js';
import { TargetVerdicts } from './target-verdicts.js';
import { UpstreamClient } from './upstream-client.js';

export interface ImdsFront extends Front {
  /** Forgets cached static answers (tests, and reloads). */
  clearCache(): void;
}

/** Builds everything a config yields; throws (and so fails closed) when anything does not compile. */
export function buildGuardState(config: ImdsConfig): GuardState {
  const policy = new ImdsPolicy({ preset: config.preset, allow: config.allow, deny: config.deny });
  return {
    policy,
    callers: new CallerMap(config.callers),
    cache: new StaticCache(config.cache_ttl_seconds),
    upstream: new UpstreamClient(config.upstream),
    requireToken: config.require_token,
    verdicts: new TargetVerdicts(policy, config.require_token),
  };
}

/** Longest a new token binding waits to be written to imds.tokens_file, in ms. */
export const TOKENS_SAVE_DELAY_MS = 1000;

export function createImdsFront(ctx: FrontContext): ImdsFront {
  let state: GuardState | undefined;
  let server: Server | undefined;
  let bound: ListenAddress | undefined;
  let listenText = '';
  const tokensFile = ctx.loaded.config.imds?.tokens_file;
  /** New bindings are written at most every TOKENS_SAVE_DELAY_MS, and at stop. */
  let saveTimer: NodeJS.Timeout | undefined;
  const save = () => {
    saveTimer = undefined;
    if (tokensFile === undefined) return;
    try {
      saveTokenBindings(tokensFile, tokens);
    } catch (error) {
      ctx.logger.error(
        { err: serializeError(error), file: tokensFile },
        'cannot write imds.tokens_file: tokens issued since are lost at the next restart',
      );
    }
  };
  const tokens = new TokenBindings(Date.now, () => {
    if (tokensFile !== undefined && saveTimer === undefined) saveTimer = setTimeout(save, TOKENS_SAVE_DELAY_MS).unref();
  });
  const callerOf = (remote: string | undefined): string | undefined => {
    const callers = state?.callers;
    if (callers === undefined || callers.size === 0 || remote === undefined) return undefined;
    return callers.lookup(remote)?.service;
  };
  const log = new AccessLog(ctx.logger, ctx.metrics, callerOf);
  const connections = new Set<GuardConnection>();
  let caps = IMDS_GUARD_CAPS;
  const sweeps = new IdleSweeps(connections);

  /** What the handler needs, rebuilt when the state is (not once per request). */
  let deps: HandlerDeps | undefined;
  const setState = (next: GuardState) => {
    state = next;
    deps = { state: next, tokens, broker: ctx.broker };
  };

  const handle = (head: Parameters<typeof handleImdsRequest>[0], remote: string | undefined) => {
    if (!deps) throw new SidekeyError('SHUTTING_DOWN', 'the guard has no policy');
    return handleImdsRequest(head, remote, deps);
  };

  const describe = (config: ImdsConfig) => ({
    preset: config.preset,
    upstream: config.upstream,
    allow: config.allow.length,
    deny: config.deny.length,
    callers: config.callers.length,
    require_token: config.require_token,
    cache_ttl_seconds: config.cache_ttl_seconds,
  });

  return {
    name: 'imds',
    addresses: () => (bound ? [bound] : []),
    ready: () => state !== undefined && server?.listening === true,
    clearCache: () => state?.cache.clear(),
    async start() {
      const config = ctx.loaded.config.imds;
      if (!config) throw new SidekeyError('CONFIG_INVALID', 'the imds front needs an imds section');
      setState(buildGuardState(config));
      if (tokensFile !== undefined) {
        const restored = loadTokenBindings(tokensFile, tokens);
        ctx.logger.info({ file: tokensFile, restored }, 'IMDSv2 token bindings restored');
      }
      listenText = formatListenAddress(config.listen);
      server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
        const connection = new GuardConnection(socket, handle, log, sweeps);
        connections.add(connection);
        socket.on('close', () => connections.delete(connection));
      });
      caps = capsOf(config, IMDS_GUARD_CAPS);
      const refused = ctx.metrics.counter(REFUSED_CONNECTIONS_METRIC, REFUSED_CONNECTIONS_HELP, ['front', 'reason']);
      capConnections(
        server,
        () => caps,
        (reason) => refused.inc({ front: 'imds', reason }),
      );
      bound = await listen(server, config.listen);
      sweeps.start();
      ctx.logger.info({ listen: formatListenAddress(bound), ...describe(config) }, 'metadata guard up');
    },
    async reload(next) {
      const config = next.config.imds;
      if (config) caps = capsOf(config, IMDS_GUARD_CAPS);
      if (!config) {
        ctx.logger.warn('the imds section was removed: the guard keeps its policy until restarted');
        return;
      }
      if (formatListenAddress(config.listen) !== listenText)
        ctx.logger.warn({ listen: listenText }, 'imds.listen changed: takes effect on restart');
      let nextState: GuardState;
      try {
        nextState = buildGuardState(config);
      } catch (error) {
        ctx.logger.error({ err: serializeError(error) }, 'imds policy did not compile: the running policy stays');
        return;
      }
      const previous = state;
      setState(nextState);
      previous?.upstream.close();
      ctx.logger.info(describe(config), 'metadata guard policy reloaded');
    },
    async stop(drainMs) {
      if (saveTimer !== undefined) {
        clearTimeout(saveTimer);
        save();
      }
      if (!server) return;
      const closed = new Promise<void>((resolve) => server?.close(() => resolve()));
      for (const connection of connections) connection.closeWhenIdle();
      const timer = setTimeout(() => {
        for (const connection of connections) connection.destroy();
      }, drainMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
      sweeps.stop();
      state?.upstream.close();
      server = undefined;
    },
  };
}
