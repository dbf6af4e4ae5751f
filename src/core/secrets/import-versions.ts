/**
 * `sidekey secrets import`: copies every version of an application from one store and format (an
 * ecs-secrets table) into another (sidekey's own), re-sealed under the destination's envelope and
 * so bound to `{app, name, serial}`. Serials and active flags are kept; a revoked version is
 * carried over as revoked, without its ciphertext. A version the destination already holds is
 * skipped, so a run can be repeated or resumed after a failure; nothing is deleted from the source.
 */
import { SidekeyError } from '../errors.js';
import { describeVersion } from './secret-errors.js';
import type { SecretStore } from './secret-store.js';
import type { VersionCodec } from './version-codec.js';

export interface VersionSource {
  readonly store: SecretStore;
  readonly codec: VersionCodec;
}

export interface ImportReport {
  readonly dryRun: boolean;
  /** `app/name#serial` of each version copied (or, in a dry run, that would be). */
  readonly imported: string[];
  /** Revoked versions carried over as revoked. */
  readonly revoked: string[];
  /** Versions the destination already holds. */
  readonly skipped: string[];
  /** Versions that could not be read or written, with why (never a payload). */
  readonly failed: string[];
}

export async function importVersions(
  from: VersionSource,
  to: VersionSource,
  app: string,
  options: { readonly dryRun: boolean; readonly actor: string },
): Promise<ImportReport> {
  const report: ImportReport = { dryRun: options.dryRun, imported: [], revoked: [], skipped: [], failed: [] };
  for (const name of await from.store.listNames(app)) {
    const versions = (await from.store.history(app, name)).sort((a, b) => a.serial - b.serial);
    for (const meta of versions) {
      const id = describeVersion(app, name, meta.serial);
      try {
        if (await to.store.get(app, name, meta.serial)) {
          report.skipped.push(id);
          continue;
        }
        const createdAt = meta.createdAt || new Date().toISOString();
        const createdBy = meta.createdBy || options.actor;
        if (!meta.active) {
          if (!options.dryRun)
            await to.store.insert({ app, name, serial: meta.serial, active: false, data: null, dataKey: null, createdAt, createdBy });
          report.revoked.push(id);
          continue;
        }
        const row = await from.store.get(app, name, meta.serial);
        if (!row) throw new SidekeyError('STORE_FAILED', 'it vanished from the source during the import');
        const payload = Buffer.from(await from.codec.open(row), 'utf8');
        try {
          if (!options.dryRun) {
            const sealed = await to.codec.seal(app, name, meta.serial, payload);
            const inserted = await to.store.insert({ app, name, serial: meta.serial, active: true, ...sealed, createdAt, createdBy });
            if (!inserted) {
              report.skipped.push(id);
              continue;
            }
          }
        } finally {
          payload.fill(0);
        }
        report.imported.push(id);
      } catch (error) {
        report.failed.push(`${id}: ${(error as Error).message}`);
      }
    }
  }
  return report;
}
