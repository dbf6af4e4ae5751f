/**
 * What `secrets exec` and `secrets render` read values through, and watch them with: sidekey's
 * own store (directly, or a daemon's secrets API), or the agent API's Secrets Manager and
 * Parameter Store routes (agent-reader.ts). A version is opaque text: a sidekey serial, a Secrets
 * Manager VersionId, a parameter's Version.
 */
import type { SecretsClient } from './secrets-client.js';

export interface ReadValue {
  readonly payload: string;
  readonly version: string;
}

export interface ValueReader {
  /** What `name` holds now (a pinned `serial` where the source has serials); throws a SidekeyError saying why not. */
  read(name: string, serial?: number): Promise<ReadValue>;
  /** The value once its version is not `version`; undefined when `waitSeconds` pass first. */
  watch(name: string, version: string, waitSeconds: number, signal: AbortSignal): Promise<ReadValue | undefined>;
}

/** Reads sidekey's own store through a client (direct or HTTP); its watch is the store's. */
export function storeReader(client: SecretsClient): ValueReader {
  const value = (v: { payload: string; serial: number }): ReadValue => ({ payload: v.payload, version: String(v.serial) });
  return {
    read: async (name, serial) => value(await client.fetch(name, serial)),
    watch: async (name, version, waitSeconds, signal) => {
      const next = await client.watch(name, Number(version), waitSeconds, signal);
      return next === undefined ? undefined : value(next);
    },
  };
}
