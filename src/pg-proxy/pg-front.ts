/**
 * The Postgres IAM proxy front: one listener per target with `listen` (client/direct mode) and,
 * when `postgres.server` is set, the server-mode TLS listener. It owns the sessions, the
 * per-target connection limits, cancel routing, the IAM token cache, metrics and the drain.
 */
import type { Socket } from 'node:net';
import { formatListenAddress, type ListenAddress } from '../core/config/listen-address.js';
import type { LoadedConfig } from '../core/config/load-config.js';
import { serializeError } from '../core/log/logger.js';
import type { BackendKey } from '../core/pg/backend-messages.js';
import { CancelKeyRegistry } from '../core/pg/cancel-keys.js';
import { IamTokenCache } from '../core/pg/iam-token-cache.js';
import { BYTE_METRICS_FLUSH_MS, SHUTDOWN_NOTICE_GRACE_MS } from '../core/pg/pg-limits.js';
import type { Front, FrontContext } from '../net/front.js';
import { forwardCancel } from './cancel-forwarder.js';
import { clientPolicy } from './client-policy.js';
import { DeadlineSweep } from './deadline-sweep.js';
import { PgMetrics } from './pg-metrics.js';
import { buildPgTarget, type PgTarget, serverTlsContext } from './pg-target.js';
import { ProxySession } from './proxy-session.js';
import { serverPolicy } from './server-policy.js';
import type { CancelRoute, SessionHub } from './session-hub.js';
import type { SessionPolicy } from './session-policy.js';
import { listenSockets, type SocketListener } from './socket-listener.js';
import { UpstreamPool } from './upstream-pool.js';

export interface PgFrontOptions {
  /** Overrides STARTUP_TIMEOUT_MS (tests of slow clients). */
  readonly startupTimeoutMs?: number;
  readonly tokens?: IamTokenCache;
}

export interface PgFront extends Front {
  /** The bound address of a target's listener, or of the server listener (`'server'`). */
  listenerAddress(name: string): ListenAddress | undefined;
  /** Open sessions (for the admin API and tests). */
  sessions(): readonly ProxySession[];
  readonly tokens: IamTokenCache;
  readonly pool: UpstreamPool;
}

/** True when the config gives the front something to serve: targets or a server listener. */
export function wantsPgFront(config: LoadedConfig['config']): boolean {
  const section = config.postgres;
  return section !== undefined && (Object.keys(section.targets).length > 0 || section.server !== undefined);
}

/** Every accepted socket's 'error' listener (one function, not a closure per socket). */
const ignoreError = () => {};

/** The listener key of the server-mode listener (target names cannot contain ':'). */
const SERVER_LISTENER = 'server';

interface Listening {
  readonly key: string;
  readonly configured: string;
  readonly listener: SocketListener;
  policy: SessionPolicy;
}

export function createPgFront(ctx: FrontContext, options: PgFrontOptions = {}): PgFront {
  const log = ctx.logger;
  const sessions = new Set<ProxySession>();
  const perTarget = new Map<string, number>();
  let pool: UpstreamPool | undefined;
  const metrics = new PgMetrics(
    ctx.metrics,
    () => perTarget.entries(),
    () => pool?.idleCounts() ?? [],
  );
  // One sweep checks every time limit of the sessions and the pool (no timer per connection).
  const deadlines = new DeadlineSweep((now) => {
    for (const session of sessions) session.expireIfDue(now);
    const pooled = pool?.sweep() ?? false;
    return pooled || sessions.size > 0;
  });
  pool = new UpstreamPool(
    log,
    {
      checkout: (target, outcome) => metrics.poolCheckout(target, outcome),
      returned: (target, outcome) => metrics.poolReturn(target, outcome),
      evicted: (target, reason) => metrics.poolEviction(target, reason),
    },
    () => deadlines.arm(),
  );
  const upstreamPool = pool;
  const tokens = options.tokens ?? new IamTokenCache({ onLookup: (outcome, target) => metrics.token(outcome, target) });
  const cancels = new CancelKeyRegistry<CancelRoute>();
  const listeners = new Map<string, Listening>();
  let loaded: LoadedConfig = ctx.loaded;
  let draining = false;
  let started = false;
  let flushTimer: NodeJS.Timeout | undefined;

  const hub: SessionHub = {
    logger: log,
    metrics,
    cancels,
    pool: upstreamPool,
    ...(options.startupTimeoutMs === undefined ? {} : { startupTimeoutMs: options.startupTimeoutMs }),
    draining: () => draining,
    acquire(target, max) {
      const open = perTarget.get(target) ?? 0;
      if (open >= max) return false;
      perTarget.set(target, open + 1);
      return true;
    },
    releaseSlot(target) {
      perTarget.set(target, (perTarget.get(target) ?? 1) - 1);
    },
    ended(session) {
      sessions.delete(session);
    },
    async forwardCancel(key: BackendKey, remote: string) {
      const route = cancels.lookup(key);
      if (!route) {
        metrics.cancel('unknown_key');
        log.info({ client: remote }, 'CancelRequest with an unknown key ignored');
        return;
      }
      try {
        await forwardCancel(route);
        metrics.cancel('forwarded');
        log.info({ client: remote, upstream: route.endpoint.label }, 'CancelRequest forwarded');
      } catch (error) {
        metrics.cancel('failed');
        log.warn({ client: remote, upstream: route.endpoint.label, err: serializeError(error) }, 'CancelRequest could not be forwarded');
      }
    },
  };

  function accept(key: string, socket: Socket): void {
    const entry = listeners.get(key);
    socket.on('error', ignoreError); // Every error is handled where the socket is read; never crash on one.
    if (!entry) {
      socket.destroy();
      return;
    }
    metrics.connection(entry.policy.mode);
    const session = new ProxySession(socket, entry.policy, hub);
    sessions.add(session);
    deadlines.arm(); // the session's startup has a time limit from now on
    void session.run(); // never rejects; hub.ended forgets the session
  }

  /** Listener key -> (configured address, policy) for a config. */
  function plan(next: LoadedConfig): Map<string, { address: ListenAddress; policy: SessionPolicy }> {
    const config = next.config;
    const section = config.postgres;
    const keepAliveMs = (section?.keepalive_seconds ?? 60) * 1000;
    const targets = new Map<string, PgTarget>();
    for (const name of Object.keys(section?.targets ?? {})) targets.set(name, buildPgTarget(name, config, ctx.broker, keepAliveMs));
    const wanted = new Map<string, { address: ListenAddress; policy: SessionPolicy }>();
    for (const target of targets.values()) {
      if (target.config.listen)
        wanted.set(`target:${target.name}`, { address: target.config.listen, policy: clientPolicy(target, tokens) });
    }
    if (section?.server) {
      const tls = serverTlsContext(section.server.tls, 'postgres.server.tls');
      wanted.set(SERVER_LISTENER, { address: section.server.listen, policy: serverPolicy(targets, new Set(section.server.allow), tls) });
    }
    return wanted;
  }

  async function apply(next: LoadedConfig): Promise<void> {
    const wanted = plan(next);
    const keepAliveMs = (next.config.postgres?.keepalive_seconds ?? 60) * 1000;
    for (const [key, entry] of listeners) {
      const want = wanted.get(key);
      if (want && formatListenAddress(want.address) === entry.configured) {
        entry.policy = want.policy; // new sessions use the new settings; open ones keep theirs
        continue;
      }
      listeners.delete(key);
      entry.listener.close();
    }
    for (const [key, want] of wanted) {
      if (listeners.has(key)) continue;
      const listener = await listenSockets(want.address, keepAliveMs, (socket) => accept(key, socket));
      listeners.set(key, { key, configured: formatListenAddress(want.address), listener, policy: want.policy });
      log.info({ listener: key, address: formatListenAddress(listener.address), mode: want.policy.mode }, 'postgres listener started');
    }
    tokens.clear();
    // Parked connections were made with the old settings (user, password, identity, host): close them.
    upstreamPool.clear();
    loaded = next;
  }

  const front: PgFront = {
    name: 'postgres',
    tokens,
    pool: upstreamPool,
    async start() {
      await apply(loaded);
      flushTimer = setInterval(() => {
        for (const session of sessions) session.flushBytes();
      }, BYTE_METRICS_FLUSH_MS);
      flushTimer.unref();
      started = true;
    },
    async reload(next) {
      await apply(next);
    },
    async stop(drainMs) {
      draining = true;
      clearInterval(flushTimer);
      upstreamPool.close();
      for (const entry of listeners.values()) entry.listener.close();
      listeners.clear();
      const deadline = Date.now() + drainMs;
      while (sessions.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      if (sessions.size > 0) {
        log.info({ sessions: sessions.size }, 'drain time over: ending postgres sessions with 57P01');
        for (const session of sessions) session.shutdown();
        const hardDeadline = Date.now() + SHUTDOWN_NOTICE_GRACE_MS * 2;
        while (sessions.size > 0 && Date.now() < hardDeadline) await new Promise((resolve) => setTimeout(resolve, 20));
        for (const session of sessions) {
          session.sockets.client.destroy();
          session.sockets.upstream?.destroy();
        }
      }
      started = false;
    },
    addresses: () => [...listeners.values()].map((entry) => entry.listener.address),
    listenerAddress: (name) => listeners.get(name === SERVER_LISTENER ? SERVER_LISTENER : `target:${name}`)?.listener.address,
    sessions: () => [...sessions],
    ready: () => started,
  };
  return front;
}
