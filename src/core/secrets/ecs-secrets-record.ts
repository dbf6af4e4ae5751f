/**
 * A fetch as ecs-secrets answers it, for its REST API (secrets-api/ecs-secrets-compat.ts) and its
 * command (cli/ecs-secrets-main.ts): the given serial, or the highest one even when it is revoked
 * (then `"payload":"","active":false`), serials read as Go's strconv.Atoi reads them, and JSON
 * written as Go's encoding/json writes it.
 */
import { isSidekeyError } from '../errors.js';
import { MAX_SERIAL } from './secret-limits.js';
import type { SecretService } from './secret-service.js';

export interface EcsSecretsRecord {
  readonly name: string;
  readonly serial: number;
  readonly payload: string;
  readonly active: boolean;
}

/** strconv.Atoi as ecs-secrets uses it: an optional sign and digits (`01` is 1); undefined when it is not a number. */
export function atoi(text: string): number | undefined {
  if (!/^[+-]?\d{1,16}$/.test(text)) return undefined;
  const value = Number(text);
  return Math.abs(value) <= MAX_SERIAL ? value : undefined;
}

/** Go's encoding/json: `<`, `>` and `&` escaped (json.Marshal; an Encoder adds the newline). */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

/** The record ecs-secrets would answer, or undefined where it answers "not found" (unknown name or serial, a serial below 1). */
export async function fetchEcsSecretsRecord(
  service: SecretService,
  app: string,
  name: string,
  serialText: string | undefined,
  actor: string,
): Promise<EcsSecretsRecord | undefined> {
  let serial: number;
  if (serialText === undefined) {
    serial = await service.store.latestSerial(app, name);
    if (serial === 0) return undefined;
  } else {
    const parsed = atoi(serialText);
    if (parsed === undefined || parsed < 1) return undefined;
    serial = parsed;
  }
  // Asked by serial even for "latest": ecs-secrets answers the highest one, revoked or not.
  try {
    const value = await service.fetch(app, name, serial, actor);
    return { name, serial: value.serial, payload: value.payload, active: true };
  } catch (error) {
    if (isSidekeyError(error, 'SECRET_REVOKED')) return { name, serial, payload: '', active: false };
    if (isSidekeyError(error, 'SECRET_NOT_FOUND') || isSidekeyError(error, 'NAME_INVALID')) return undefined;
    throw error;
  }
}
