/**
 * How many connections each listener holds at once, in all and from one source address. Caps are
 * per listener, so a flood of one front (20,000 idle connections ran the daemon out of file
 * descriptors) leaves the others, and the admin listener's health checks, answering.
 */
import { int, withDefault } from './schema.js';

export interface ConnectionCaps {
  /** Open connections on one listener; the next is closed at once. */
  readonly max: number;
  /** Open connections from one source address (unix sockets: not applied); the next is closed at once. */
  readonly perSource: number;
}

export const CREDENTIAL_ENDPOINT_CAPS: ConnectionCaps = { max: 1024, perSource: 256 };
export const SECRETS_API_CAPS: ConnectionCaps = { max: 1024, perSource: 256 };
export const ADMIN_CAPS: ConnectionCaps = { max: 256, perSource: 64 };
/** The guard serves every container of the host: more in all, and a bound per container address. */
export const IMDS_GUARD_CAPS: ConnectionCaps = { max: 4096, perSource: 512 };
/** Largest configurable cap. */
export const MAX_CONNECTION_CAP = 100_000;

/** The two config keys of a listener's caps, with its defaults. */
export function connectionCapFields(defaults: ConnectionCaps) {
  return {
    max_connections: withDefault(int({ min: 1, max: MAX_CONNECTION_CAP, unit: 'connections' }), defaults.max),
    max_connections_per_source: withDefault(int({ min: 1, max: MAX_CONNECTION_CAP, unit: 'connections' }), defaults.perSource),
  };
}

export function capsOf(
  section: { max_connections: number; max_connections_per_source: number } | undefined,
  defaults: ConnectionCaps,
): ConnectionCaps {
  return section ? { max: section.max_connections, perSource: section.max_connections_per_source } : defaults;
}
