// The ARP-cache scanner reads this node's IPv4 neighbour table every `arp-cache` period and,
// debounced, after neighbour events, and hands the entries to the daemon (core 'neighbours').

import ipaddr from 'ipaddr.js';
import type { NativeApi, NetEvent, Neighbour } from '../../bindings/types.js';
import type { ArpEntry } from '../core/types.js';
import { describeError, type AgentLogger } from '../log/logger.js';

export interface ArpScannerOptions {
  native: Pick<NativeApi, 'listNeighbours'>;
  /** timing.arpCacheMs. */
  intervalMs: number;
  log: AgentLogger;
  onEntries: (entries: ArpEntry[]) => void;
  /** Quiet time after the last neighbour event before scanning (default 250 ms). */
  debounceMs?: number;
}

/**
 * IPv4 entries with a MAC, one per IP (first seen wins), sorted by address. Which addresses are
 * hosts (not multicast, broadcast, ...) core's ARP cache decides (src/core/ipv4-range.ts isIpv4Host).
 */
export function neighbourEntries(neighbours: readonly Neighbour[]): ArpEntry[] {
  const byIp = new Map<string, ArpEntry>();
  for (const n of neighbours) {
    if (n.family !== 4 || !n.mac || n.mac === '00:00:00:00:00:00' || byIp.has(n.ip)) continue;
    if (!ipaddr.IPv4.isValidFourPartDecimal(n.ip)) continue;
    byIp.set(n.ip, { ip: n.ip, mac: n.mac });
  }
  const numeric = (ip: string) => ipaddr.IPv4.parse(ip).toByteArray().reduce((acc, b) => acc * 256 + b, 0);
  return [...byIp.values()].sort((a, b) => numeric(a.ip) - numeric(b.ip));
}

export class ArpScanner {
  scans = 0;
  scanErrors = 0;
  private readonly native: Pick<NativeApi, 'listNeighbours'>;
  private readonly log: AgentLogger;
  private readonly onEntries: (entries: ArpEntry[]) => void;
  private readonly debounceMs: number;
  private intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private last = '';

  constructor(options: ArpScannerOptions) {
    this.native = options.native;
    this.log = options.log;
    this.onEntries = options.onEntries;
    this.intervalMs = options.intervalMs;
    this.debounceMs = options.debounceMs ?? 250;
  }

  /** Scan now, then every intervalMs. */
  start(): void {
    this.stopTimers();
    this.scan(true);
    this.timer = setInterval(() => this.scan(true), this.intervalMs);
  }

  /** A new period (reload): restarts the timer when running. */
  setInterval(ms: number): void {
    this.intervalMs = ms;
    if (this.timer) this.start();
  }

  /** Neighbour events (or an overrun) schedule a scan once they have been quiet for debounceMs. */
  onNetEvents(events: readonly NetEvent[]): void {
    if (!this.timer) return;
    if (!events.some((e) => e.type === 'overrun' || e.type === 'failed' || (e.type === 'neighbour' && e.family === 4))) return;
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.scan(false), this.debounceMs);
  }

  /**
   * Read the table and report it: always on the periodic scan, and only when it changed on an
   * event-driven one (neighbour state flips reachable/stale/delay all the time).
   */
  scan(always: boolean): ArpEntry[] | undefined {
    let entries: ArpEntry[];
    try {
      entries = neighbourEntries(this.native.listNeighbours(4));
    } catch (err) {
      this.scanErrors++;
      this.log.error({ err: describeError(err) }, 'reading the neighbour table failed');
      return undefined;
    }
    this.scans++;
    const digest = entries.map((e) => `${e.ip}=${e.mac}`).join(',');
    if (!always && digest === this.last) return entries;
    this.last = digest;
    this.onEntries(entries);
    return entries;
  }

  close(): void {
    this.stopTimers();
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    clearTimeout(this.debounce);
    this.timer = undefined;
    this.debounce = undefined;
  }
}
