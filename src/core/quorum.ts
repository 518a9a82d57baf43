// Quorum (DESIGN.md "Protocol"): two counts, and being heard.
//
// - Keeping groups needs `quorum` nodes seen (this node plus fresh peers, whatever their
//   health: which side of a partition am I on?), else no_quorum_policy applies.
// - Taking groups also needs `quorum` active nodes heard directly within 1.5 intervals (same
//   config, this node included), so a node cut off a moment ago, whose stale view still counts
//   its peers, takes nothing the majority is already placing without it.
// - A node learns from its peers' hears lists (peers heard within two intervals) that it is not
//   heard, and releases everything once that has lasted half an interval (one lost datagram, seen
//   by every peer at once on a flooded or lossy link, leaves it out of their lists only until the
//   next one arrives). Silent holders' groups wait long enough for that: see taking.ts.

import type { MembershipView } from './membership.js';
import type { NodeState } from './state.js';
import { UNCERTAIN_AFTER_INTERVALS } from './liveness.js';
import type { Wake } from './wake.js';

/** Not heard by a quorum for this many intervals (continuously): release everything. */
export const UNHEARD_CONFIRM_INTERVALS = 0.5;

export interface QuorumAssessment {
  /** This node (when active) plus fresh active peers of its config heard within 1.5 intervals. */
  activeSeen: number;
  /** Enough nodes seen to keep groups. */
  quorumOk: boolean;
  /** Enough active nodes heard lately to take groups (always, when quorum is ignored). */
  activeQuorumOk: boolean;
  /** Fewer than quorum nodes have heard this node for half an interval: it holds nothing. */
  unheard: boolean;
}

export function assessQuorum(state: NodeState, view: MembershipView, selfActive: boolean, now: number, wake: Wake): QuorumAssessment {
  const { config } = state;
  const { timing } = config;
  const uncertainAfter = timing.intervalMs * UNCERTAIN_AFTER_INTERVALS;
  const activeSeen = (selfActive ? 1 : 0) + view.fresh.filter((peer) => peer.last!.active && peer.last!.fingerprint === config.fingerprint && now - peer.lastHeard <= uncertainAfter).length;
  const ignoreQuorum = config.quorum <= 1 || config.noQuorumPolicy === 'ignore';
  const quorumOk = config.quorum <= 1 || view.seen >= config.quorum;
  const activeQuorumOk = ignoreQuorum || activeSeen >= config.quorum;
  // Peers can only be expected to hear this node once it has been announcing for stale.
  const notHeard = config.quorum > 1 && now - state.listenSince > timing.staleMs && view.witnesses >= config.quorum && view.heardBy < config.quorum;
  state.unheardSince = notHeard ? (state.unheardSince ?? now) : null;
  const unheardConfirmedAt = (state.unheardSince ?? Infinity) + timing.intervalMs * UNHEARD_CONFIRM_INTERVALS;
  const unheard = now >= unheardConfirmedAt;
  if (notHeard && !unheard) wake.add(unheardConfirmedAt);
  return { activeSeen, quorumOk, activeQuorumOk, unheard };
}
