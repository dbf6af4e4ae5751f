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
  return guardedHeaders(req).forwarded;
}

/** What the guards and a token check read of a request's headers. */
export interface GuardedHeaders {
  /** The first Host header (node:http also keeps the first). */
  readonly host: string | undefined;
  /** The first Authorization header (likewise). */
  readonly authorization: string | undefined;
  /** The name (lower case) of the first forwarding header present, if any. */
  readonly forwarded: string | undefined;
}

/**
 * Those headers in one pass over `rawHeaders`, comparing names only when their length fits:
 * `req.headers` builds an object of every header on first use, which a hot path that reads three
 * names need not pay for (about half a microsecond per request on the credential endpoint).
 */
export function guardedHeaders(req: IncomingMessage): GuardedHeaders {
  const raw = req.rawHeaders;
  let host: string | undefined;
  let authorization: string | undefined;
  let forwarded: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    switch (name.length) {
      case 4:
        if (host === undefined && name.toLowerCase() === 'host') host = raw[i + 1];
        break;
      case 13:
        if (authorization === undefined && name.toLowerCase() === 'authorization') authorization = raw[i + 1];
        break;
      case 9: // forwarded, x-real-ip
      case 15: {
        // x-forwarded-for
        const lower = name.toLowerCase();
        if (forwarded === undefined && (FORWARDING_HEADERS as readonly string[]).includes(lower)) forwarded = lower;
        break;
      }
    }
  }
  return { host, authorization, forwarded };
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
 * True when a request's Host value (read with guardedHeaders) is acceptable. A unix socket has no
 * meaningful Host, so any is accepted there; a wildcard bind (0.0.0.0, ::) accepts any IP literal
 * but no DNS name.
 */
export function hostHeaderAllowed(hostHeader: string | undefined, address: ListenAddress, allowed: ReadonlySet<string>): boolean {
  if (address.kind === 'unix') return true;
  const host = hostHeader?.toLowerCase();
  if (host === undefined) return false;
  if (allowed.has(host)) return true;
  if (address.host === '0.0.0.0' || address.host === '::') {
    const bare = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
    return isIP(bare) !== 0;
  }
  return false;
}
