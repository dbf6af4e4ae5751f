/**
 * The secrets API front: ecs-secrets' REST routes and ours, served by `sidekey serve`
 * when the config has a `secrets` section; 127.0.0.1:8080 by default. Tokens reload on SIGHUP;
 * the store, keyring, listener and cache TTL take effect on restart.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { capsOf, SECRETS_API_CAPS } from '../core/config/connection-limits.js';
import { formatListenAddress, isLoopback, type ListenAddress } from '../core/config/listen-address.js';
import type { SecretsConfig } from '../core/config/sections/secrets-section.js';
import { SidekeyError } from '../core/errors.js';
import { createSecretService } from '../core/secrets/create-secret-service.js';
import type { SecretService } from '../core/secrets/secret-service.js';
import { capConnections, HTTP_SERVER_TIMEOUTS, REFUSED_CONNECTIONS_HELP, REFUSED_CONNECTIONS_METRIC } from '../net/connection-limits.js';
import type { Front, FrontContext } from '../net/front.js';
import { close, listen } from '../net/http-listen.js';
import { requestDurations, timedRequests } from '../net/request-durations.js';
import { hostNames } from '../net/request-guards.js';
import { createEcsSecretsCompatHandler } from './ecs-secrets-compat.js';
import { type Caller, SecretsAuth } from './secrets-auth.js';
import { createSecretsHandler } from './secrets-handler.js';

const NOBODY: Caller = { id: '', role: 'reader', application: 'default', names: [] };

export interface SecretsFront extends Front {
  /** The service behind the front (for the daemon harness and tests). */
  readonly service: () => SecretService | undefined;
}

export function createSecretsFront(ctx: FrontContext): SecretsFront {
  const initial = ctx.loaded.config.secrets;
  if (!initial) throw new SidekeyError('CONFIG_INVALID', 'the secrets front needs a secrets section');
  let config: SecretsConfig = initial;
  let auth = new SecretsAuth(config.tokens);
  /** The one token the ecs-secrets listener requires (with require_token); its id is fixed until restart. */
  const compatAuthOf = (tokens: SecretsConfig['tokens']) =>
    new SecretsAuth(tokens.filter((t) => t.id === config.ecs_secrets_api?.token_id));
  let compatAuth = compatAuthOf(config.tokens);
  let service: SecretService | undefined;
  let server: Server | undefined;
  let bound: ListenAddress | undefined;
  let compatServer: Server | undefined;
  let hosts: ReadonlySet<string> = new Set();

  return {
    name: 'secrets',
    service: () => service,
    addresses: () => (bound ? [bound] : []),
    ready: () => server?.listening === true,
    async start() {
      service = createSecretService({
        secrets: config,
        awsDefaults: ctx.loaded.config.aws_defaults,
        logger: ctx.logger,
        metrics: ctx.metrics,
      });
      // Fail at start-up, not on the first request: open the store (creating no table), load or
      // create the local key file.
      await service.store.open(config.application);
      await service.codec.setup();
      if (config.tokens.length === 0) ctx.logger.warn('secrets.tokens is empty: every request will be refused with 401');
      if (!isLoopback(config.listen))
        ctx.logger.warn({ listen: formatListenAddress(config.listen) }, 'the secrets API listens beyond loopback');
      const refused = ctx.metrics.counter(REFUSED_CONNECTIONS_METRIC, REFUSED_CONNECTIONS_HELP, ['front', 'reason']);
      /** Both listeners take the same time limits and the same connection caps. */
      const durations = requestDurations(ctx.metrics);
      const cappedServer = (handler: RequestListener, front = 'secrets'): Server => {
        const created = createServer(HTTP_SERVER_TIMEOUTS, timedRequests(durations, front, handler));
        capConnections(
          created,
          () => capsOf(config, SECRETS_API_CAPS),
          (reason) => refused.inc({ front: 'secrets', reason }),
        );
        return created;
      };
      server = cappedServer(
        createSecretsHandler({
          service,
          auth: () => auth,
          address: () => bound as ListenAddress,
          hosts: () => hosts,
          logger: ctx.logger,
          metrics: ctx.metrics,
        }),
      );
      bound = await listen(server, config.listen);
      hosts = hostNames(bound, config.allowed_hosts);
      const compat = config.ecs_secrets_api;
      if (compat) {
        // The token it acts as is looked up per request, so a reload of tokens applies at once.
        const caller = (): Caller => {
          const t = config.tokens.find((token) => token.id === compat.token_id);
          // Gone in a reload: act as nobody until the restart that the reload asked for.
          return t ? { id: t.id, role: t.role, application: t.application, names: t.names } : { ...NOBODY, id: compat.token_id };
        };
        // The token as it is now: rebuilt with `auth` at each reload, so a new value applies at once.
        const authenticate = compat.require_token
          ? (header: string | undefined) => {
              compatAuth.authenticate(header);
            }
          : undefined;
        let compatBound: ListenAddress = compat.listen;
        let compatHosts: ReadonlySet<string> = new Set();
        compatServer = cappedServer(
          createEcsSecretsCompatHandler({
            service,
            caller,
            ...(authenticate ? { authenticate } : {}),
            address: () => compatBound,
            hosts: () => compatHosts,
            logger: ctx.logger,
          }),
          'ecs-secrets',
        );
        compatBound = await listen(compatServer, compat.listen);
        compatHosts = hostNames(compatBound, config.allowed_hosts);
        ctx.logger.info(
          { listen: formatListenAddress(compatBound), as: compat.token_id, require_token: compat.require_token },
          "ecs-secrets' API up",
        );
      }
      ctx.logger.info(
        { listen: formatListenAddress(bound), store: config.store.type, keyring: service.codec.describe(), tokens: config.tokens.length },
        'secrets API up',
      );
    },
    async stop(drainMs) {
      await Promise.all([server && close(server, drainMs), compatServer && close(compatServer, drainMs)]);
      await service?.close();
    },
    async reload(next) {
      const secrets = next.config.secrets;
      if (!secrets) {
        ctx.logger.warn('the secrets section was removed: the secrets API keeps running until restart');
        return;
      }
      auth = new SecretsAuth(secrets.tokens);
      compatAuth = compatAuthOf(secrets.tokens);
      if (bound) hosts = hostNames(bound, secrets.allowed_hosts);
      const restartKeys = (['listen', 'store', 'keyring', 'cache_ttl_seconds', 'ecs_secrets_api'] as const).filter(
        (key) => JSON.stringify(secrets[key]) !== JSON.stringify(config[key]),
      );
      if (restartKeys.length > 0)
        ctx.logger.warn({ keys: restartKeys.map((k) => `secrets.${k}`) }, 'these secrets keys take effect on restart');
      config = {
        ...secrets,
        listen: config.listen,
        store: config.store,
        keyring: config.keyring,
        cache_ttl_seconds: config.cache_ttl_seconds,
        ...(config.ecs_secrets_api ? { ecs_secrets_api: config.ecs_secrets_api } : {}),
      };
      ctx.logger.info({ tokens: secrets.tokens.length }, 'secrets tokens reloaded');
    },
  };
}
