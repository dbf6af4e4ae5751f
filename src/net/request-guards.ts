/**
 * Checks shared by the HTTP fronts: refuse requests relayed by a proxy (an SSRF that reaches us
 * through one carries these headers) and Host names that are not ours (DNS rebinding).
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { ListenAddress } from '../core/config/listen-address.js';

export const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'] as const;

/** The name of the first forwarding header present, or undefined. */
export function forwardingHeader(req: IncomingMessage): string | undefined {
  return FORWARDING_HEADERS.find((name) => req.headers[name] !== undefined);
}

/**
 * The Host header values a listener answers to: its own address with and without the port (the
 * port may be left out when it is 80), plus `localhost` on loopback, plus configured extras.
 */
export function hostNames(address: ListenAddress, extra: readonly string[] = []): Set<string> {
  const names = new Set<string>(extra.map((h) => h.toLowerCase()));
  if (address.kind === 'unix') return names;
  const hosts = [address.host.toLowerCase()];
  if (hosts[0] === '127.0.0.1' || hosts[0] === '::1') hosts.push('localhost');
  for (const host of hosts) {
    const bracketed = isIP(host) === 6 ? `[${host}]` : host;
    names.add(`${bracketed}:${address.port}`);
    if (address.port === 80) names.add(bracketed);
  }
  return names;
}

/**
 * True when the request's Host is acceptable. A unix socket has no meaningful Host, so any is
 * accepted there; a wildcard bind (0.0.0.0, ::) accepts any IP literal but no DNS name.
 */
export function hostAllowed(req: IncomingMessage, address: ListenAddress, allowed: ReadonlySet<string>): boolean {
  if (address.kind === 'unix') return true;
  const host = req.headers.host?.toLowerCase();
  if (host === undefined) return false;
  if (allowed.has(host)) return true;
  if (address.host === '0.0.0.0' || address.host === '::') {
    const bare = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    return isIP(bare) !== 0;
  }
  return false;
}
