/**
 * Per-caller mode: which service a source address stands for. The most specific block wins
 * (like a routing table); equal blocks are refused by the config schema. IPv4-mapped IPv6
 * addresses (`::ffff:172.17.0.5`, what a dual-stack listener reports) count as IPv4.
 */
import { BlockList, isIPv4 } from 'node:net';

export interface CallerEntry {
  readonly cidr: string;
  readonly service: string;
}

interface Compiled extends CallerEntry {
  readonly bits: number;
  readonly list: BlockList;
}

/** The address a listener reports, with an IPv4-mapped IPv6 prefix removed. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

export class CallerMap {
  readonly #entries: readonly Compiled[];

  constructor(entries: readonly CallerEntry[]) {
    this.#entries = entries
      .map((entry) => {
        const [network, bits] = entry.cidr.split('/') as [string, string];
        const list = new BlockList();
        list.addSubnet(network, Number(bits), isIPv4(network) ? 'ipv4' : 'ipv6');
        return { ...entry, bits: Number(bits), list };
      })
      .sort((a, b) => b.bits - a.bits);
  }

  get size(): number {
    return this.#entries.length;
  }

  lookup(address: string | undefined): CallerEntry | undefined {
    if (address === undefined) return undefined;
    const plain = plainAddress(address);
    const family = isIPv4(plain) ? 'ipv4' : 'ipv6';
    const found = this.#entries.find((entry) => entry.list.check(plain, family));
    return found ? { cidr: found.cidr, service: found.service } : undefined;
  }
}
