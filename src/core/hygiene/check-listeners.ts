/**
 * Listeners without TLS belong on loopback (or a unix socket): tokens, credentials and secrets
 * cross them in clear text. The ECS container-credentials addresses are reported apart: the AWS
 * SDKs accept them, and only the task's own network namespace should reach them.
 */
import { isIP } from 'node:net';
import { adminListen } from '../config/admin-listen.js';
import { formatListenAddress, isLoopback, type ListenAddress } from '../config/listen-address.js';
import type { LoadedConfig } from '../config/load-config.js';
import { endpointListeners } from '../config/sections/credentials-section.js';
import { type Finding, finding } from './finding.js';

/** Addresses the AWS SDKs accept for the container credentials provider besides loopback. */
export const CONTAINER_ENDPOINT_HOSTS: ReadonlySet<string> = new Set(['169.254.170.2', '169.254.170.23', 'fd00:ec2::23']);

interface Listener {
  readonly path: string;
  readonly address: ListenAddress;
  /** What crosses it, for the message. */
  readonly carries: string;
}

export function plainListeners(loaded: LoadedConfig): Listener[] {
  const { config } = loaded;
  const listeners: Listener[] = endpointListeners(config.server).map((address, i) => ({
    path: config.server?.listeners ? `server.listeners[${i}]` : 'server.host',
    address,
    carries: 'service tokens and AWS credentials',
  }));
  listeners.push({
    path: config.admin.listen ? 'admin.listen' : 'metrics.prometheus.host',
    address: adminListen(config),
    carries: 'the admin token and incident-response calls',
  });
  if (config.secrets)
    listeners.push({ path: 'secrets.listen', address: config.secrets.listen, carries: 'secrets tokens and secret values' });
  if (config.imds)
    listeners.push({ path: 'imds.listen', address: config.imds.listen, carries: 'instance metadata and per-caller credentials' });
  if (config.agent)
    listeners.push({
      path: 'agent.listen',
      address: config.agent.listen,
      carries: 'agent tokens and the secret and parameter values they read',
    });
  for (const [name, target] of Object.entries(config.postgres?.targets ?? {})) {
    // A target with client_tls offers TLS to its clients (and must demand a password off loopback).
    if (target.listen && !target.client_tls)
      listeners.push({ path: `postgres.targets.${name}.listen`, address: target.listen, carries: 'database sessions' });
  }
  // postgres.server.listen is always TLS (its tls section is required), so it is not listed.
  return listeners;
}

export function checkListeners(loaded: LoadedConfig): Finding[] {
  const findings: Finding[] = [];
  for (const { path, address, carries } of plainListeners(loaded)) {
    if (isLoopback(address) || address.kind !== 'tcp') continue;
    const where = formatListenAddress(address);
    const host = address.host.toLowerCase();
    if (CONTAINER_ENDPOINT_HOSTS.has(host)) {
      findings.push(
        finding(
          'listener-container-endpoint',
          path,
          `${where} is an ECS container-credentials address; anything that can route to it reaches ${carries}`,
          'keep it inside one task or pod network namespace; on a shared host prefer 127.0.0.1 or a unix socket',
        ),
      );
      continue;
    }
    const wildcard = host === '0.0.0.0' || host === '::';
    findings.push(
      finding(
        'listener-exposed',
        path,
        `${where} ${wildcard ? 'listens on every interface' : isIP(host) ? 'is not a loopback address' : 'is a host name, not a loopback address'} and has no TLS, so ${carries} cross the network in clear text`,
        'listen on 127.0.0.1 (share the network namespace with the application: network_mode: service:sidekey, or a pod sidecar) or on a unix socket',
      ),
    );
  }
  findings.push(...checkServerProxy(loaded));
  return findings;
}

/**
 * A server proxy beyond loopback: password targets without client_auth are refused by validation;
 * IAM targets without it are reachable by anyone who can present a token, which only the database
 * verifies, so say so.
 */
function checkServerProxy(loaded: LoadedConfig): Finding[] {
  const postgres = loaded.config.postgres;
  const server = postgres?.server;
  if (!server || isLoopback(server.listen) || server.listen.kind !== 'tcp') return [];
  const open = server.allow.filter((name) => postgres.targets[name]?.client_auth === 'trust');
  if (open.length === 0) return [];
  return [
    finding(
      'pg-server-unauthenticated',
      'postgres.server.listen',
      `${formatListenAddress(server.listen)} is not loopback-only, and ${open.map((n) => `"${n}"`).join(', ')} ${open.length === 1 ? 'has' : 'have'} no client_auth: anyone who reaches it may present IAM tokens, checked only by the database`,
      `set postgres.targets.NAME.client_auth: { password: ... } on the server proxy (and the same password as auth on the client proxies), and keep the listener reachable only from the client proxies (security group)`,
    ),
  ];
}
