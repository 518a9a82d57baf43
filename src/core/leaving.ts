// Leaving (DESIGN.md "Protocol"): on a clean stop a node releases its groups and announces
// `leaving`; peers act at once instead of waiting for `stale` (a leaving peer's release is a
// hand-off, see taking.ts, and its neighbour table is dropped).

import type { Announcement } from './types.js';
import type { PeerRecord } from './membership.js';
import { dropPeer } from './arp-cache.js';
import type { NodeState, StepOutput } from './state.js';
import { releaseAll } from './releasing.js';
import { hearsIndices } from './liveness.js';

export function leave(state: NodeState, now: number, out: StepOutput): void {
  releaseAll(state, 'shutdown', out);
  state.stopped = true;
  out.actions.push({
    type: 'send',
    announcement: {
      node: state.self,
      version: state.config.version,
      fingerprint: state.config.fingerprint,
      active: false,
      inactiveReason: 'shutdown',
      leaving: true,
      held: [],
      ineligible: [],
      hears: hearsIndices(state, now),
    },
  });
  state.last = { ...state.last, mode: 'stopped', active: false, inactiveReason: 'shutdown' };
  out.log('notice', 'stopping', 'leaving the cluster: released everything, announced leaving');
}

/** A peer's first `leaving` announcement: forget its neighbour table, say so once. */
export function notePeerLeaving(state: NodeState, peer: PeerRecord, announcement: Announcement, wasLeaving: boolean, out: StepOutput): void {
  if (!announcement.leaving || wasLeaving) return;
  dropPeer(state.arp, peer.name);
  if (peer.wasAlive) out.log('notice', 'peer-leaving', `${peer.name} is leaving`, { peer: peer.name });
  peer.wasAlive = false;
}
