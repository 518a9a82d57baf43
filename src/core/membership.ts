// Who this node considers part of the cluster right now, from the announcements it has heard.
//
// - fresh: heard directly within `stale` and not leaving.
// - alive: fresh, or vouched for by a fresh peer of the same config whose `hears` lists it. A
//   peer that one node lost a few announcements from is still alive to it while others hear
//   it, so nodes agree on the view under random loss instead of racing for its groups.
// - member: alive with this node's config fingerprint (group indices mean the same thing).

import type { ClusterConfig } from '../config/model.js';
import type { Announcement } from './types.js';

export interface PeerRecord {
  name: string;
  /** Receipt time of the last announcement (-Infinity: never heard). */
  lastHeard: number;
  last: Announcement | null;
  /** Since when it has been heard without a gap longer than stale. */
  freshSince: number;
  /** Receipt time of the last announcement from a peer of the same config that listed it in hears. */
  lastVouched: number;
  /** Alive at the previous evaluation, so that transitions are logged once. */
  wasAlive: boolean;
}

export interface MembershipView {
  /** Peers heard directly within stale (any config), not leaving. */
  fresh: PeerRecord[];
  /** Alive peers with this node's fingerprint, config order. */
  members: PeerRecord[];
  /** Alive peers whose config differs: their group indices cannot be read. */
  foreign: PeerRecord[];
  /** Names vouched for by a peer that this node has never heard itself. */
  unknownAlive: string[];
  /** Alive only by a peer's word: what they hold now is unknown here. */
  vouchedOnly: PeerRecord[];
  alive: Set<string>;
  /** Nodes seen for quorum: this node plus fresh peers. */
  seen: number;
  /** This node plus witnesses whose hears list includes this node. */
  heardBy: number;
  /**
   * This node plus witnesses: fresh members heard for at least a hears window, whose lists had
   * time to include this node (right after a heal they cannot yet).
   */
  witnesses: number;
}

export function isFresh(peer: PeerRecord, now: number, staleMs: number): boolean {
  return peer.last !== null && !peer.last.leaving && now - peer.lastHeard <= staleMs;
}

export function computeMembership(config: ClusterConfig, self: string, peers: ReadonlyMap<string, PeerRecord>, now: number, hearsWindowMs: number): MembershipView {
  const staleMs = config.timing.staleMs;
  const selfIndex = config.nodes.findIndex((node) => node.name === self);
  const ordered = config.nodes.map((node) => peers.get(node.name)).filter((peer): peer is PeerRecord => peer !== undefined);
  const fresh = ordered.filter((peer) => isFresh(peer, now, staleMs));
  const freshMembers = fresh.filter((peer) => peer.last!.fingerprint === config.fingerprint);

  const alive = new Set(fresh.map((peer) => peer.name));
  const unknownAlive: string[] = [];
  for (const witness of freshMembers) {
    for (const index of witness.last!.hears) {
      const name = config.nodes[index]?.name;
      if (name === undefined || name === self || alive.has(name)) continue;
      const record = peers.get(name);
      if (record === undefined || record.last === null) {
        if (!unknownAlive.includes(name)) unknownAlive.push(name);
      } else if (!record.last.leaving) {
        alive.add(name);
      }
    }
  }
  const witnesses = freshMembers.filter((peer) => now - peer.freshSince >= hearsWindowMs);
  const alivePeers = ordered.filter((peer) => alive.has(peer.name));
  return {
    fresh,
    vouchedOnly: alivePeers.filter((peer) => !fresh.includes(peer)),
    members: alivePeers.filter((peer) => peer.last!.fingerprint === config.fingerprint),
    foreign: alivePeers.filter((peer) => peer.last!.fingerprint !== config.fingerprint),
    unknownAlive,
    alive,
    seen: 1 + fresh.length,
    heardBy: 1 + witnesses.filter((peer) => peer.last!.hears.includes(selfIndex)).length,
    witnesses: 1 + witnesses.length,
  };
}
