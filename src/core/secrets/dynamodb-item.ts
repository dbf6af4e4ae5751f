/** Mapping between DynamoDB items (ecs-secrets' attribute names plus ours) and store rows. */
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

export function rowOf(app: string, name: string, item: Item): VersionRow {
  return {
    ...metaOf(item),
    app,
    name,
    data: item.EncryptedData?.B ? Buffer.from(item.EncryptedData.B) : null,
    dataKey: item.EncryptedDataKey?.B ? Buffer.from(item.EncryptedDataKey.B) : null,
  };
}
