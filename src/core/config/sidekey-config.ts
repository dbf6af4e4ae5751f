/** The whole config file's schema: every section, and the rules that span sections. */

import { adminListen } from './admin-listen.js';
import { formatListenAddress } from './listen-address.js';
import { obj, section } from './mapping-schemas.js';
import { type Infer, optional, withDefault } from './schema.js';
import { adminSchema, loggingSchema, metricsSchema, shutdownSchema } from './sections/admin-section.js';
import { agentSchema } from './sections/agent-section.js';
import {
  credentialsSchema,
  dynamicServicesSchema,
  endpointListeners,
  serverSchema,
  servicesSchema,
  sourceCredentialsSchema,
} from './sections/credentials-section.js';
import { imdsSchema } from './sections/imds-section.js';
import { postgresSchema } from './sections/postgres-section.js';
import { secretsSchema } from './sections/secrets-section.js';

type Problem = { path?: string; message: string };

function crossSectionRules(v: Record<string, unknown>): Problem[] {
  const config = v as unknown as SidekeyConfig;
  const problems: Problem[] = [];
  const prometheus = config.metrics.prometheus;
  if (config.admin.listen && (prometheus.host !== undefined || prometheus.port !== undefined)) {
    problems.push({ message: 'cannot specify admin.listen and metrics.prometheus.host/port together: they name the same listener' });
  }
  const services = new Set(Object.keys(config.services));
  config.imds?.callers.forEach((caller, i) => {
    if (!services.has(caller.service) && !config.dynamic_services.enabled) {
      problems.push({ path: `imds.callers[${i}].service`, message: `no service named "${caller.service}" under services` });
    }
  });
  for (const [targetName, target] of Object.entries(config.postgres?.targets ?? {})) {
    if (target.service !== undefined && !services.has(target.service) && !config.dynamic_services.enabled) {
      problems.push({ path: `postgres.targets.${targetName}.service`, message: `no service named "${target.service}" under services` });
    }
  }
  config.agent?.tokens.forEach((t, i) => {
    if (t.service !== undefined && !services.has(t.service) && !config.dynamic_services.enabled) {
      problems.push({ path: `agent.tokens[${i}].service`, message: `no service named "${t.service}" under services` });
    }
  });
  for (const [i, allowed] of (config.postgres?.server?.allow ?? []).entries()) {
    if (!config.postgres?.targets[allowed]) {
      problems.push({ path: `postgres.server.allow[${i}]`, message: `no target named "${allowed}" under postgres.targets` });
    }
  }
  problems.push(...sharedTokens(config));
  // Two fronts on one address would fail at start-up with EADDRINUSE; say which keys collide.
  const owners = new Map<string, string>();
  const claim = (address: string, key: string) => {
    if (address.endsWith(':0')) return;
    const previous = owners.get(address);
    if (previous) problems.push({ message: `${key} and ${previous} both listen on ${address}` });
    else owners.set(address, key);
  };
  for (const address of endpointListeners(config.server)) claim(formatListenAddress(address), 'server.listeners');
  claim(formatListenAddress(adminListen(config)), 'admin.listen');
  if (config.secrets) claim(formatListenAddress(config.secrets.listen), 'secrets.listen');
  if (config.imds) claim(formatListenAddress(config.imds.listen), 'imds.listen');
  if (config.agent) claim(formatListenAddress(config.agent.listen), 'agent.listen');
  for (const [targetName, target] of Object.entries(config.postgres?.targets ?? {})) {
    if (target.listen) claim(formatListenAddress(target.listen), `postgres.targets.${targetName}.listen`);
  }
  if (config.postgres?.server) claim(formatListenAddress(config.postgres.server.listen), 'postgres.server.listen');
  return problems;
}

/**
 * One token in two places (a service and the admin API, or two secrets roles) would let whoever
 * holds it act as both, and a lookup could not tell which was meant. Token files are compared
 * when they are read (ServiceTokens); messages name keys, never tokens.
 */
function sharedTokens(config: SidekeyConfig): Problem[] {
  const keys: [string, string | undefined][] = [
    ...Object.entries(config.services).map(([name, s]) => [`services.${name}.auth_token`, s.auth_token] as [string, string | undefined]),
    ['admin.token', config.admin.token],
    ...(config.secrets?.tokens ?? []).map((t, i) => [`secrets.tokens[${i}].token`, t.token] as [string, string]),
    ...(config.agent?.tokens ?? []).map((t, i) => [`agent.tokens[${i}].token`, t.token] as [string, string]),
  ];
  const owners = new Map<string, string>();
  const problems: Problem[] = [];
  for (const [key, token] of keys) {
    if (token === undefined) continue;
    const owner = owners.get(token);
    if (owner === undefined) owners.set(token, key);
    // Two services sharing one are already reported by the services section.
    else if (!(owner.startsWith('services.') && key.startsWith('services.')))
      problems.push({
        message: `${key} is the same token as ${owner}: each service, the admin API and every secrets or agent token needs its own (sidekey token makes one)`,
      });
  }
  return problems;
}

export const sidekeyConfigSchema = obj(
  {
    server: optional(serverSchema),
    credentials: section(credentialsSchema),
    aws_defaults: optional(sourceCredentialsSchema),
    services: withDefault(servicesSchema, {}),
    dynamic_services: section(dynamicServicesSchema),
    metrics: section(metricsSchema),
    admin: section(adminSchema),
    logging: section(loggingSchema),
    shutdown: section(shutdownSchema),
    secrets: optional(secretsSchema),
    imds: optional(imdsSchema),
    postgres: optional(postgresSchema),
    agent: optional(agentSchema),
  },
  {
    renamed: { aws: 'use aws_defaults', listen: 'use server.listeners' },
    rules: crossSectionRules,
  },
);

export type SidekeyConfig = Infer<typeof sidekeyConfigSchema>;
