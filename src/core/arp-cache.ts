// The cluster's shared neighbour tables: this node's own scan plus the slices peers send.
// Peers' entries are dropped when the peer goes silent or leaves (the original never did).

import type { ArpEntry } from './types.js';
import { isIpv4Host } from './ipv4-range.js';

export interface ArpCache {
  /** ip → mac from this node's last scan. */
  local: Map<string, string>;
  /** Per peer: the last complete table, plus slices of the table being received. */
  peers: Map<string, { table: Map<string, string>; incoming: Map<string, string> }>;
}

export function emptyArpCache(): ArpCache {
  return { local: new Map(), peers: new Map() };
}

function toTable(entries: readonly ArpEntry[]): Map<string, string> {
  const table = new Map<string, string>();
  for (const { ip, mac } of entries) {
    if (isIpv4Host(ip)) table.set(ip, mac.toLowerCase());
  }
  return table;
}

/** Replaces the local table; true when its content changed. */
export function setLocalEntries(cache: ArpCache, entries: readonly ArpEntry[]): boolean {
  const next = toTable(entries);
  const changed = next.size !== cache.local.size || [...next].some(([ip, mac]) => cache.local.get(ip) !== mac);
  cache.local = next;
  return changed;
}

/**
 * Merges one slice of a peer's table. Entries are usable at once; the slice marked complete
 * closes the series, and the peer's table becomes exactly what the series carried.
 */
export function mergeSlice(cache: ArpCache, peer: string, entries: readonly ArpEntry[], complete: boolean): void {
  let record = cache.peers.get(peer);
  if (record === undefined) {
    record = { table: new Map(), incoming: new Map() };
    cache.peers.set(peer, record);
  }
  for (const [ip, mac] of toTable(entries)) {
    record.table.set(ip, mac);
    record.incoming.set(ip, mac);
  }
  if (complete) {
    record.table = record.incoming;
    record.incoming = new Map();
  }
}

export function dropPeer(cache: ArpCache, peer: string): boolean {
  return cache.peers.delete(peer);
}

/** The cluster-wide table: local entries first, then peers in the given order; first IP wins. */
export function clusterEntries(cache: ArpCache, peerOrder: readonly string[]): ArpEntry[] {
  const merged = new Map(cache.local);
  for (const peer of peerOrder) {
    for (const [ip, mac] of cache.peers.get(peer)?.table ?? []) {
      if (!merged.has(ip)) merged.set(ip, mac);
    }
  }
  return [...merged].map(([ip, mac]) => ({ ip, mac }));
}

export function localEntries(cache: ArpCache): ArpEntry[] {
  return [...cache.local].map(([ip, mac]) => ({ ip, mac }));
}
