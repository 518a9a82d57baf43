// Readers of what the kernels and the wire show during a scale run. Every time comes from a
// kernel-side or tool-side stamp (ip -ts monitor, tcpdump -tt), never from polling, and all
// namespaces share the wall clock, so stamps compare directly with t0 = Date.now().
import { readFileSync } from 'node:fs';
import os from 'node:os';
import type { Host, Segment } from '../../test/netns/harness.js';
import { ipStamp } from '../../test/netns/lib/ip-stamp.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The 1-minute load average, rounded: the machine is shared, so every figure carries it. */
export function load1(): number {
  return Math.round(os.loadavg()[0]! * 100) / 100;
}

/**
 * VIP number k (0-based) from the documentation ranges that the harness leaves free:
 * 198.51.100.1–254, then 203.0.113.1–254.
 */
export function vipAddress(k: number): string {
  if (!Number.isInteger(k) || k < 0 || k >= 2 * 254) throw new RangeError(`vipAddress: k must be 0..507, got ${k}`);
  return k < 254 ? `198.51.100.${k + 1}` : `203.0.113.${k - 253}`;
}

/** IPv4 addresses on the host's eth0 right now. */
export async function addressesOn(seg: Segment, host: Host): Promise<Set<string>> {
  const { stdout } = await seg.exec(host, ['ip', '-j', '-4', 'addr', 'show', 'dev', 'eth0']);
  const links = JSON.parse(stdout) as Array<{ addr_info?: Array<{ local: string }> }>;
  return new Set(links.flatMap((l) => l.addr_info?.map((a) => a.local) ?? []));
}

/** Host name → which of `vips` its kernel holds. */
export async function holdings(seg: Segment, hosts: readonly Host[], vips: readonly string[]): Promise<Map<string, string[]>> {
  const wanted = new Set(vips);
  const entries = await Promise.all(hosts.map(async (h) => [h.name, [...await addressesOn(seg, h)].filter((ip) => wanted.has(ip))] as const));
  return new Map(entries);
}

/**
 * From `ip -ts monitor address` output: each IPv4 address first added (or, with `deleted`,
 * first deleted) at or after `after` → its stamp, merged into `into`.
 */
export function addressEvents(output: string, after: number, { deleted = false, into = new Map<string, number>() } = {}): Map<string, number> {
  for (const line of output.split('\n')) {
    if (line.includes('Deleted') !== deleted) continue;
    const ip = / inet (\d+\.\d+\.\d+\.\d+)\//.exec(line)?.[1];
    const t = ip === undefined ? undefined : ipStamp(line);
    if (ip === undefined || t === undefined || t < after) continue;
    if (!into.has(ip) || into.get(ip)! > t) into.set(ip, t);
  }
  return into;
}

/**
 * From `tcpdump -tt -n -e arp` output: the first gratuitous ARP (a broadcast request whose sender
 * and target IP are the same) at or after `after` from one of `macs`, per address → its stamp.
 */
export function firstGarps(output: string, macs: ReadonlySet<string>, after: number): Map<string, number> {
  const seen = new Map<string, number>();
  for (const line of output.split('\n')) {
    const m = /^(\d+\.\d+) ([0-9a-f:]{17}) > ff:ff:ff:ff:ff:ff, .*Request who-has (\S+)(?: \([^)]*\))? tell (\S+),/.exec(line);
    if (!m || m[3] !== m[4] || !macs.has(m[2]!)) continue;
    const t = Number(m[1]) * 1000;
    if (t >= after && !seen.has(m[3]!)) seen.set(m[3]!, t);
  }
  return seen;
}

/** From `tcpdump -n -e udp …` output: Ethernet frame bytes per source IPv4 address. */
export function frameBytesBySource(output: string): Map<string, number> {
  const bytes = new Map<string, number>();
  for (const line of output.split('\n')) {
    const m = /, length (\d+): (\d+\.\d+\.\d+\.\d+)\.\d+ > /.exec(line);
    if (m) bytes.set(m[2]!, (bytes.get(m[2]!) ?? 0) + Number(m[1]));
  }
  return bytes;
}

/** Milliseconds from t0 to the latest of `stamps` (null when any of `keys` has none). */
export function lastOf(stamps: ReadonlyMap<string, number>, keys: readonly string[], t0: number): number | null {
  let last = -Infinity;
  for (const k of keys) {
    const t = stamps.get(k);
    if (t === undefined) return null;
    last = Math.max(last, t);
  }
  return keys.length === 0 ? null : round(last - t0);
}

export function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux

/** CPU time (user + system) the process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  // Fields after the command name: state ppid … utime (14th) stime (15th).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').at(-1)!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
}
