// Receiving announcements: everything a node knows of a peer comes from them. A peer of this
// config vouches for the nodes its hears list names (see membership.ts: alive by a peer's word).

import type { Announcement } from './types.js';
import { isFresh, type PeerRecord } from './membership.js';
import { nodeIndex, type NodeState, type StepOutput } from './state.js';
import { noteHandoffs } from './taking.js';
import { notePeerLeaving } from './leaving.js';
import { notePeerConfig } from './config-graduation.js';

export function receiveAnnouncement(state: NodeState, from: string, announcement: Announcement, now: number, out: StepOutput): void {
  // The agent may loop our own multicast back; wire already rejects unknown nodes.
  if (from === state.self || announcement.node !== from || nodeIndex(state.config, from) < 0) return;
  const peer = peerRecord(state, from);
  vouchFor(state, from, announcement, now);
  const wasLeaving = peer.last?.leaving ?? false;
  if (!isFresh(peer, now, state.config.timing.staleMs)) peer.freshSince = now;
  noteHandoffs(state, peer, announcement, now);
  peer.lastHeard = now;
  peer.last = announcement;
  notePeerLeaving(state, peer, announcement, wasLeaving, out);
  notePeerConfig(state, from, announcement, out);
}

/** A peer of our config that lists others in its hears list vouches for them. */
export function vouchFor(state: NodeState, from: string, announcement: Announcement, now: number): void {
  if (announcement.fingerprint !== state.config.fingerprint) return;
  for (const index of announcement.hears) {
    const name = state.config.nodes[index]?.name;
    if (name !== undefined && name !== state.self && name !== from) peerRecord(state, name).lastVouched = now;
  }
}

function peerRecord(state: NodeState, name: string): PeerRecord {
  let peer = state.peers.get(name);
  if (peer === undefined) {
    peer = { name, lastHeard: -Infinity, last: null, freshSince: -Infinity, lastVouched: -Infinity, wasAlive: false };
    state.peers.set(name, peer);
  }
  return peer;
}
