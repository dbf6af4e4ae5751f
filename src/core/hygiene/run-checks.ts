/**
 * `sidekey check`'s core: runs every check on a loaded config and the host it will run on, and
 * returns the findings, failures first. Only the access-key age check talks to AWS (IAM), and only
 * when long-lived keys are configured and `online` is set.
 */
import type { LoadedConfig } from '../config/load-config.js';
import { checkAccessKeyAges } from './access-key-age.js';
import { checkAgent } from './check-agent.js';
import { checkFileModes } from './check-file-modes.js';
import { checkImds } from './check-imds.js';
import { checkListeners } from './check-listeners.js';
import { checkPostgresTls } from './check-postgres-tls.js';
import { checkProcess } from './check-process.js';
import { checkSecrets } from './check-secrets.js';
import { checkSecretsStore } from './check-secrets-store.js';
import { checkSessions } from './check-sessions.js';
import { checkTokenFiles } from './check-token-files.js';
import { type Finding, SEVERITIES } from './finding.js';
import { checkLongLivedKeys, longLivedKeys } from './long-lived-keys.js';
import { collectSecretValues } from './secret-values.js';

export interface CheckOptions {
  /** Environment the daemon will see (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL_IAM). */
  readonly env?: NodeJS.ProcessEnv;
  /** Effective user id the daemon runs as; defaults to this process's. */
  readonly uid?: number | undefined;
  readonly now?: Date;
  /** Ask IAM how old long-lived keys are (default true). */
  readonly online?: boolean;
}

export async function runChecks(loaded: LoadedConfig, options: CheckOptions = {}): Promise<Finding[]> {
  const env = options.env ?? process.env;
  const uid = 'uid' in options ? options.uid : process.getuid?.();
  const keys = longLivedKeys(loaded, env);
  const findings = [
    ...checkSecrets(collectSecretValues(loaded)),
    ...checkFileModes(loaded),
    ...checkTokenFiles(loaded),
    ...checkListeners(loaded),
    ...checkPostgresTls(loaded),
    ...checkImds(loaded),
    ...checkProcess(loaded, uid),
    ...checkLongLivedKeys(keys),
    ...checkSessions(loaded),
    ...checkSecretsStore(loaded),
    ...checkAgent(loaded),
  ];
  if (options.online ?? true) findings.push(...(await checkAccessKeyAges(keys, { env, now: options.now ?? new Date() })));
  const rank = (f: Finding) => SEVERITIES.indexOf(f.severity);
  return findings.sort((a, b) => rank(a) - rank(b));
}
