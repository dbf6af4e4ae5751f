/** An IAM test peer: ListAccessKeys for the caller's own user, or AccessDenied when told to deny. */
import { QueryError, QueryProtocolPeer, xmlEscape } from './query-protocol-peer.js';
import type { KnownKey } from './sigv4-verifier.js';

export interface IamPeerKey extends KnownKey {
  readonly userName: string;
  readonly created: Date;
}

const isoSeconds = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export function createIamPeer(keys: readonly IamPeerKey[], options: { deny?: boolean } = {}): QueryProtocolPeer {
  return new QueryProtocolPeer({
    service: 'iam',
    xmlns: 'https://iam.amazonaws.com/doc/2010-05-08/',
    version: '2010-05-08',
    keys,
    actions: {
      ListAccessKeys: (params, caller) => {
        const me = keys.find((k) => k.accessKeyId === caller.accessKeyId) as IamPeerKey;
        if (options.deny) {
          throw new QueryError(
            403,
            'AccessDenied',
            `User: arn:aws:iam::123456789012:user/${me.userName} is not authorized to perform: iam:ListAccessKeys`,
          );
        }
        const user = params.get('UserName') ?? me.userName;
        const members = keys
          .filter((k) => k.userName === user)
          .map(
            (k) =>
              `<member><UserName>${xmlEscape(k.userName)}</UserName><AccessKeyId>${k.accessKeyId}</AccessKeyId><Status>Active</Status><CreateDate>${isoSeconds(k.created)}</CreateDate></member>`,
          )
          .join('');
        return `<AccessKeyMetadata>${members}</AccessKeyMetadata><IsTruncated>false</IsTruncated>`;
      },
    },
  });
}
