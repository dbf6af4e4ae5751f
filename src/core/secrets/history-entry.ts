import type { VersionMeta } from './secret-store.js';

/** One version in a history, as the REST API answers it and `sidekey secrets history` prints it. */
export interface HistoryEntry {
  readonly serial: number;
  readonly active: boolean;
  readonly created_at: string;
  readonly created_by: string;
  readonly revoked_at?: string;
  readonly revoked_by?: string;
}

export function historyEntry(v: VersionMeta): HistoryEntry {
  return {
    serial: v.serial,
    active: v.active,
    created_at: v.createdAt,
    created_by: v.createdBy,
    ...(v.revokedAt ? { revoked_at: v.revokedAt } : {}),
    ...(v.revokedBy ? { revoked_by: v.revokedBy } : {}),
  };
}
