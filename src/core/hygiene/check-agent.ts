/**
 * The agent API's tokens read what they list; `*` lists everything the identity they read as may
 * read, so one leaked token gives up every secret or parameter behind it.
 */
import type { LoadedConfig } from '../config/load-config.js';
import { type Finding, finding } from './finding.js';

export function checkAgent(loaded: LoadedConfig): Finding[] {
  const findings: Finding[] = [];
  for (const [i, token] of (loaded.config.agent?.tokens ?? []).entries()) {
    for (const key of ['names', 'parameters'] as const) {
      const at = token[key].indexOf('*');
      if (at === -1) continue;
      const reads = token.service ? `service ${token.service}'s role` : "the daemon's own credentials";
      findings.push(
        finding(
          'agent-token-unscoped',
          `agent.tokens[${i}].${key}[${at}]`,
          `agent token "${token.id}" may read every ${key === 'names' ? 'secret' : 'parameter'} ${reads} can read`,
          `list what its callers need instead, by name or a prefix such as ${key === 'names' ? 'prod/web/*' : '/prod/web/*'}; sidekey policy then grants no more`,
        ),
      );
    }
  }
  return findings;
}
