/**
 * Runs a real daemon in this process from a YAML config text (every listener on 127.0.0.1 with
 * port 0, so tests never collide), with logs captured for assertions and checked at stop
 * (assertDaemonLines).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatListenAddress, type ListenAddress } from '../../src/core/config/listen-address.js';
import { loadConfig } from '../../src/core/config/load-config.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { assertDaemonLines, captureLogger } from './log-capture.js';
import { tempDir } from './temp-dir.js';

export interface RunningDaemon {
  readonly daemon: Daemon;
  readonly dir: string;
  readonly configFile: string;
  readonly lines: string[];
  /** `http://127.0.0.1:PORT` of the named front's first listener. */
  url(front: string): string;
  address(front: string): ListenAddress;
  /** Rewrites the config file and reloads (as SIGHUP does); resolves with whether it was applied. */
  reload(yaml: string): Promise<boolean>;
  stop(): Promise<void>;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Files to write into the temp dir before loading (name -> content); token files get 0600. */
  files?: Record<string, string>;
}

export async function startDaemon(yaml: string, options: StartOptions = {}): Promise<RunningDaemon> {
  const dir = tempDir();
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir.path, name), content, { mode: 0o600 });
  const configFile = join(dir.path, 'sidekey.yaml');
  writeFileSync(configFile, yaml);
  const env = { ...process.env, ...(options.env ?? {}) };
  const { logger, lines } = captureLogger();
  const loaded = loadConfig(configFile, { env });
  const daemon = new Daemon({ loaded, logger, reloadConfig: () => loadConfig(configFile, { env }) });
  await daemon.start();
  const address = (front: string) => {
    const found = daemon.fronts.find((f) => f.name === front)?.addresses?.()[0];
    if (!found) throw new Error(`no front named ${front} with an address (have ${daemon.fronts.map((f) => f.name).join(', ')})`);
    return found;
  };
  return {
    daemon,
    dir: dir.path,
    configFile,
    lines,
    address,
    url: (front) => `http://${formatListenAddress(address(front))}`,
    reload: async (next) => {
      writeFileSync(configFile, next);
      return daemon.reload();
    },
    stop: async () => {
      await daemon.stop(100);
      dir.remove();
      assertDaemonLines(lines);
    },
  };
}
