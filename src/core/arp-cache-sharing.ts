// ARP-cache sharing (DESIGN.md "Protocol"): this node's neighbour table goes to its peers when
// it changes or a peer comes up (at most once per interval); peers' slices are merged
// (arp-cache.ts holds the tables) and a silent or leaving peer's entries are dropped
// (liveness.ts, leaving.ts).

import type { ArpEntry } from './types.js';
import { localEntries, mergeSlice, setLocalEntries } from './arp-cache.js';
import { nodeIndex, type NodeState, type StepOutput } from './state.js';
import type { Wake } from './wake.js';

export function noteNeighbours(state: NodeState, entries: readonly ArpEntry[]): void {
  if (setLocalEntries(state.arp, entries)) state.arpSendPending = true;
}

export function noteArpSlice(state: NodeState, from: string, entries: readonly ArpEntry[], complete: boolean): void {
  if (from !== state.self && nodeIndex(state.config, from) >= 0) mergeSlice(state.arp, from, entries, complete);
}

export function shareArpCache(state: NodeState, now: number, wake: Wake, out: StepOutput): void {
  if (!state.arpSendPending) return;
  const allowedAt = state.arpSentAt + state.config.timing.intervalMs;
  if (now >= allowedAt) {
    out.actions.push({ type: 'send-arp-cache', entries: localEntries(state.arp) });
    state.arpSentAt = now;
    state.arpSendPending = false;
  } else {
    wake.add(allowedAt);
  }
}
