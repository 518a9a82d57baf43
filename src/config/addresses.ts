// Address text → canonical parts. ipaddr.js does the parsing; we only add vippy's rules
// (a missing mask is a host route, no zone ids, dotted-quad IPv4 only).

import ipaddr from 'ipaddr.js';
import type { Family, VipAddress } from './model.js';

export interface ParsedAddress {
  /** Canonical text (RFC 5952 for IPv6). */
  ip: string;
  family: Family;
  prefixLength: number;
}

/** The canonical form of a bare address, or undefined when it is not one. */
export function canonicalIp(text: string): { ip: string; family: Family } | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return { ip: ipaddr.IPv4.parse(text).toString(), family: 4 };
  if (!text.includes('%') && ipaddr.IPv6.isValid(text)) return { ip: ipaddr.IPv6.parse(text).toString(), family: 6 };
  return undefined;
}

/** Explains what is wrong with "ip[/len]", or returns undefined when it is fine. */
export function cidrProblem(text: string): string | undefined {
  return parseCidr(text) === undefined
    ? `${JSON.stringify(text)} is not an IP address (expected "address" or "address/prefix-length")`
    : undefined;
}

/** "ip" or "ip/len"; a missing length means /32 or /128. */
export function parseCidr(text: string): ParsedAddress | undefined {
  const parts = text.split('/');
  if (parts.length > 2) return undefined;
  const address = canonicalIp(parts[0]!);
  if (address === undefined) return undefined;
  const maxLength = address.family === 4 ? 32 : 128;
  if (parts.length === 1) return { ...address, prefixLength: maxLength };
  if (!/^\d{1,3}$/.test(parts[1]!)) return undefined;
  const prefixLength = Number(parts[1]);
  return prefixLength <= maxLength ? { ...address, prefixLength } : undefined;
}

/** The chat group: vippy's chat is IPv4 (the one multicast check of a configured address). */
export function isIpv4Multicast(ip: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(ip) && ipaddr.IPv4.parse(ip).range() === 'multicast';
}

/** The normalized VIP entry, with vippy's netmask/broadcast/network for IPv4. */
export function vipAddress(iface: string, address: ParsedAddress, state: string | undefined): VipAddress {
  const vip: VipAddress = { interface: iface, ip: address.ip, family: address.family, prefixLength: address.prefixLength };
  if (address.family === 4) {
    const cidr = `${address.ip}/${address.prefixLength}`;
    vip.netmask = ipaddr.IPv4.subnetMaskFromPrefixLength(address.prefixLength).toString();
    vip.broadcast = ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString();
    vip.network = ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
  }
  if (state !== undefined) vip.state = state;
  return vip;
}

/** The network address of ip/len (host bits cleared). */
export function networkOf(address: ParsedAddress): string {
  const cidr = `${address.ip}/${address.prefixLength}`;
  return address.family === 4
    ? ipaddr.IPv4.networkAddressFromCIDR(cidr).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(cidr).toString();
}

/** "ADDR:PORT" or "[v6]:PORT" → parts; undefined when malformed. */
export function parseHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}
