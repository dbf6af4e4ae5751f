import type { ListenAddress } from './listen-address.js';
import { DEFAULT_ADMIN_LISTEN } from './sections/admin-section.js';
import type { SidekeyConfig } from './sidekey-config.js';

/** The admin listener: `admin.listen`, else CredProxy's `metrics.prometheus` host/port, else 127.0.0.1:9090. */
export function adminListen(config: Pick<SidekeyConfig, 'admin' | 'metrics'>): ListenAddress {
  if (config.admin.listen) return config.admin.listen;
  const { host, port } = config.metrics.prometheus;
  if (host === undefined && port === undefined) return DEFAULT_ADMIN_LISTEN;
  return { kind: 'tcp', host: host ?? DEFAULT_ADMIN_LISTEN.host, port: port ?? DEFAULT_ADMIN_LISTEN.port };
}
