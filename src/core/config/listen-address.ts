import { isIP } from 'node:net';
import { type Schema, str, transform } from './schema.js';

/** Where a front listens: a TCP host and port, or a unix socket path. */
export type ListenAddress =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Parses `HOST:PORT`, `[IPV6]:PORT` or `unix:/path`; returns a message when it is not one. */
export function parseListenAddress(text: string): ListenAddress | string {
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (!path.startsWith('/')) return 'a unix socket needs an absolute path (unix:/run/sidekey/creds.sock)';
    return { kind: 'unix', path };
  }
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (!match) return 'expected HOST:PORT, [IPV6]:PORT or unix:/path';
  const host = (match[1] ?? match[2]) as string;
  const port = Number(match[3]);
  if (port < 0 || port > 65535) return `port ${port} is out of range (0 to 65535)`;
  if (match[1] !== undefined && isIP(host) !== 6) return `${host} is not an IPv6 address`;
  if (match[2] !== undefined && isIP(host) === 0 && !HOSTNAME.test(host)) return `${host} is not an IP address or host name`;
  return { kind: 'tcp', host, port };
}

export function formatListenAddress(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return isIP(address.host) === 6 ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost, unix sockets. */
export function isLoopback(address: ListenAddress): boolean {
  if (address.kind === 'unix') return true;
  const host = address.host.toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export function listenAddress(): Schema<ListenAddress> {
  const text = str({
    expected: 'a listen address (HOST:PORT, [IPV6]:PORT or unix:/path)',
    check: (value) => {
      const parsed = parseListenAddress(value);
      return typeof parsed === 'string' ? parsed : undefined;
    },
  });
  return transform(text, (value) => parseListenAddress(value) as ListenAddress);
}
