/** Which startup parameters travel upstream, and the ones a client proxy adds for a server proxy. */

/** Extra StartupMessage parameters from a client proxy to a server proxy; never sent to a database. */
export const TARGET_PARAM = 'sidekey_target';
export const TOKEN_PARAM = 'sidekey_token';

/** Parameters the proxy sets itself or must not forward (`_pq_.` options are answered by NegotiateProtocolVersion). */
export function isForwarded(key: string): boolean {
  return key !== 'user' && key !== 'database' && !key.startsWith('sidekey_') && !key.startsWith('_pq_.');
}

/** The StartupMessage parameters for the upstream: user and database first, then the client's own (application_name, options...). */
export function upstreamParams(
  client: ReadonlyMap<string, string>,
  user: string,
  database: string,
  extra: ReadonlyArray<readonly [string, string]> = [],
): Array<readonly [string, string]> {
  const params: Array<readonly [string, string]> = [
    ['user', user],
    ['database', database],
  ];
  for (const [key, value] of client) if (isForwarded(key)) params.push([key, value]);
  params.push(...extra);
  return params;
}
