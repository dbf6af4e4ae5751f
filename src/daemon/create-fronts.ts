/**
 * The fronts the daemon runs, in start order; each is built only when its config section is
 * present. The admin front comes last so `/ready` answers once the others are listening.
 */
import { createAdminFront } from '../admin/admin-front.js';
import { createAgentFront } from '../agent/agent-front.js';
import { createCredentialEndpointFront, wantsCredentialEndpoint } from '../credential-endpoint/credential-endpoint-front.js';
import { createImdsFront } from '../imds-guard/imds-front.js';
import type { Front, FrontContext } from '../net/front.js';
import { createPgFront, wantsPgFront } from '../pg-proxy/pg-front.js';
import { createSecretsFront } from '../secrets-api/secrets-front.js';

export function createFronts(ctx: FrontContext, all: () => readonly Front[]): Front[] {
  const fronts: Front[] = [];
  // Each front adds itself here: `if (ctx.loaded.config.X) fronts.push(createXFront(ctx));`
  if (wantsCredentialEndpoint(ctx.loaded.config))
    fronts.push(createCredentialEndpointFront({ ...ctx, logger: ctx.logger.child({ front: 'credential-endpoint' }) }));
  if (ctx.loaded.config.secrets) fronts.push(createSecretsFront({ ...ctx, logger: ctx.logger.child({ front: 'secrets' }) }));
  if (ctx.loaded.config.imds) fronts.push(createImdsFront({ ...ctx, logger: ctx.logger.child({ front: 'imds' }) }));
  if (ctx.loaded.config.agent) fronts.push(createAgentFront({ ...ctx, logger: ctx.logger.child({ front: 'agent' }) }));
  if (wantsPgFront(ctx.loaded.config)) fronts.push(createPgFront({ ...ctx, logger: ctx.logger.child({ front: 'postgres' }) }));
  fronts.push(createAdminFront(ctx, all));
  return fronts;
}
