/**
 * The fronts the daemon runs, in start order; each is built only when its config section is
 * present. The admin front comes last so `/ready` answers once the others are listening.
 */
import { createAdminFront } from '../admin/admin-front.js';
import { createCredentialEndpointFront, wantsCredentialEndpoint } from '../credential-endpoint/credential-endpoint-front.js';
import type { Front, FrontContext } from './front.js';

export function createFronts(ctx: FrontContext, all: () => readonly Front[]): Front[] {
  const fronts: Front[] = [];
  // Each front adds itself here: `if (ctx.loaded.config.X) fronts.push(createXFront(ctx));`
  if (wantsCredentialEndpoint(ctx.loaded.config))
    fronts.push(createCredentialEndpointFront({ ...ctx, logger: ctx.logger.child({ front: 'credential-endpoint' }) }));
  fronts.push(createAdminFront(ctx, all));
  return fronts;
}
