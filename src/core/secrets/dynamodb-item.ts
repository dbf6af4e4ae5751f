/** Mapping between DynamoDB items (ecs-secrets' attribute names plus ours, in either layout) and store rows. */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { VersionMeta, VersionRow } from './secret-store.js';

export type Item = Record<string, AttributeValue>;

/** The partition key: the application first, so IAM can confine a role with dynamodb:LeadingKeys. */
export const key = (app: string, name: string) => `${app}/${name}`;
export function metaOf(item: Item): VersionMeta {
  return {
    serial: Number(item.Serial?.N),
    active: item.Active?.BOOL === true,
    createdAt: item.CreatedAt?.S ?? '',
    createdBy: item.CreatedBy?.S ?? '',
    ...(item.RevokedAt?.S ? { revokedAt: item.RevokedAt.S } : {}),
    ...(item.RevokedBy?.S ? { revokedBy: item.RevokedBy.S } : {}),
  };
}

/** A stored blob: binary (sidekey's layout) or base64 text (ecs-secrets'). */
function blobOf(value: AttributeValue | undefined): Buffer | null {
  if (value?.B) return Buffer.from(value.B);
  if (value?.S) return Buffer.from(value.S, 'base64');
  return null;
}

export function rowOf(app: string, name: string, item: Item): VersionRow {
  return {
    ...metaOf(item),
    app,
    name,
    data: blobOf(item.EncryptedData),
    dataKey: blobOf(item.EncryptedDataKey),
  };
}
