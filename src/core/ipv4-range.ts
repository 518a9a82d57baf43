// IPv4 range arithmetic for the notify hit-list: which hosts to tell about a VIP. ipaddr.js
// parses; ranges are plain unsigned 32-bit integers so intersecting and walking them is cheap.

import ipaddr from 'ipaddr.js';

/** An inclusive range of IPv4 addresses as unsigned integers. */
export interface Ipv4Range { first: number; last: number; }

export function ipv4ToNumber(ip: string): number {
  const [a, b, c, d] = ipaddr.IPv4.parse(ip).octets;
  return ((a! << 24) >>> 0) + (b! << 16) + (c! << 8) + d!;
}

export function numberToIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Network address to broadcast address inclusive (vippy's notion of "the subnet"). */
export function ipv4Subnet(ip: string, prefixLength: number): Ipv4Range {
  const size = 2 ** (32 - prefixLength);
  const first = Math.floor(ipv4ToNumber(ip) / size) * size;
  return { first, last: first + size - 1 };
}

export function intersect(a: Ipv4Range, b: Ipv4Range): Ipv4Range | undefined {
  const first = Math.max(a.first, b.first);
  const last = Math.min(a.last, b.last);
  return first <= last ? { first, last } : undefined;
}

export function contains(range: Ipv4Range, ip: string): boolean {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return false;
  const value = ipv4ToNumber(ip);
  return value >= range.first && value <= range.last;
}

/**
 * Whether a neighbour entry's address can be a host to notify: IPv4, not multicast, broadcast
 * or unspecified (vippy excluded multicast groups from its shared cache too). The one check of
 * neighbour entries: scans and peers' slices both go through core's ARP cache.
 */
export function isIpv4Host(ip: string): boolean {
  if (!ipaddr.IPv4.isValidFourPartDecimal(ip)) return false;
  const range = ipaddr.IPv4.parse(ip).range();
  return range !== 'multicast' && range !== 'broadcast' && range !== 'unspecified';
}
