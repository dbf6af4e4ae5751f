/**
 * The iptables/ip6tables commands that send a container network's metadata traffic to the guard.
 * Blocking comes first: once the REJECT and DROP rules are in, nothing from the interface reaches
 * IMDS directly, whether or not the guard is up yet (a DNAT to a port nobody listens on is reset).
 * Each command is an argv (run without a shell by `--apply`) with the reason it exists.
 */
import { SidekeyError } from '../errors.js';

export const IMDS_IPV4 = '169.254.169.254';
export const IMDS_IPV6 = 'fd00:ec2::254';
export const IMDS_PORT = 80;
/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1). */
const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;

export interface FirewallCommand {
  readonly argv: readonly string[];
  readonly why: string;
}

export interface FirewallOptions {
  /** The container-facing interface, e.g. docker0. */
  readonly iface: string;
  /** The guard's port on 127.0.0.1 (IPv4) and on the interface's own address (IPv6). */
  readonly port: number;
}

export function interfaceProblem(iface: string): string | undefined {
  if (!INTERFACE_NAME.test(iface) || /^\.+$/.test(iface)) {
    return `"${iface}" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . -)`;
  }
  return undefined;
}

export function imdsFirewallCommands({ iface, port }: FirewallOptions): FirewallCommand[] {
  const problem = interfaceProblem(iface);
  if (problem) throw new SidekeyError('USAGE', problem);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SidekeyError('USAGE', `port ${port} is out of range (1 to 65535)`);
  return [
    {
      why: `block first: nothing from ${iface} reaches IMDS (IPv4) directly, even before the guard is up`,
      argv: ['iptables', '-w', '-I', 'FORWARD', '1', '-i', iface, '-d', `${IMDS_IPV4}/32`, '-j', 'REJECT'],
    },
    {
      why: `block first: nothing from ${iface} reaches IMDS (IPv6) directly`,
      argv: ['ip6tables', '-w', '-I', 'FORWARD', '1', '-i', iface, '-d', `${IMDS_IPV6}/128`, '-j', 'REJECT'],
    },
    {
      why: `only redirected connections may reach loopback from ${iface} (route_localnet would otherwise expose every local service)`,
      argv: [
        'iptables',
        '-w',
        '-I',
        'INPUT',
        '1',
        '-i',
        iface,
        '-d',
        '127.0.0.0/8',
        '-m',
        'conntrack',
        '!',
        '--ctstate',
        'RELATED,ESTABLISHED,DNAT',
        '-j',
        'DROP',
      ],
    },
    {
      why: `let the kernel route DNAT-ed packets from ${iface} to 127.0.0.1`,
      argv: ['sysctl', '-w', `net/ipv4/conf/${iface}/route_localnet=1`],
    },
    {
      why: `redirect IPv4 metadata requests from ${iface} to the guard`,
      argv: [
        'iptables',
        '-w',
        '-t',
        'nat',
        '-I',
        'PREROUTING',
        '1',
        '-i',
        iface,
        '-p',
        'tcp',
        '-d',
        `${IMDS_IPV4}/32`,
        '--dport',
        String(IMDS_PORT),
        '-j',
        'DNAT',
        '--to-destination',
        `127.0.0.1:${port}`,
      ],
    },
    {
      why: `redirect IPv6 metadata requests from ${iface} to port ${port} on ${iface}'s own address (the guard serves them when it listens on [::]:${port}; otherwise they are reset, never forwarded)`,
      argv: [
        'ip6tables',
        '-w',
        '-t',
        'nat',
        '-I',
        'PREROUTING',
        '1',
        '-i',
        iface,
        '-p',
        'tcp',
        '-d',
        `${IMDS_IPV6}/128`,
        '--dport',
        String(IMDS_PORT),
        '-j',
        'REDIRECT',
        '--to-ports',
        String(port),
      ],
    },
  ];
}

const SHELL_SAFE = /^[A-Za-z0-9_./:,=@+-]+$/;
const quote = (arg: string) => (SHELL_SAFE.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

/** The commands as a shell script, each preceded by why it is there. */
export function formatFirewallCommands(commands: readonly FirewallCommand[]): string {
  return `${commands.map((c) => `# ${c.why}\n${c.argv.map(quote).join(' ')}`).join('\n')}\n`;
}
