// The incremental placer's ranker. For each group it keeps the top few active nodes by vippy's
// score, always a true prefix of the full ranking: a node leaving is crossed out of the lists
// (no hashing), a node joining is hashed once per group and slotted in where it ranks. Only a
// group whose list runs dry is ranked again in full. So one node change at 1,000 nodes ×
// 100,000 groups costs 100,000 digests (join) or none (leave), instead of 100 million.

import type { ClusterConfig, VipGroup } from '../config/model.js';
import { md5Into } from './placement-md5.js';
import type { Ranker } from './placement-hashed.js';

/** Entries kept per group: enough that several nodes leaving rarely empties a list. */
const KEEP = 4;

export class CachedRanker implements Ranker {
  private readonly names: string[];
  private readonly indexOf: Map<string, number>;
  /** UTF-8 of `name + "|"`, the hashed prefix. */
  private readonly prefixes: Uint8Array[];
  private readonly keys: Uint8Array[];
  private readonly isActive: Uint8Array;
  private activeCount = 0;
  private pending: ReadonlySet<string> | undefined;
  /** Per group: node indices best first, their digests (4 words each), and how many are valid. */
  private readonly top: Int32Array;
  private readonly topDigests: Uint32Array;
  private readonly topLength: Uint8Array;
  private readonly digest = new Uint32Array(4);

  constructor(readonly config: ClusterConfig) {
    this.names = config.nodes.map((node) => node.name);
    this.indexOf = new Map(this.names.map((name, index) => [name, index]));
    const encoder = new TextEncoder();
    this.prefixes = this.names.map((name) => encoder.encode(name + '|'));
    this.keys = config.groups.map((group) => encoder.encode(group.key));
    this.isActive = new Uint8Array(this.names.length);
    const groups = config.groups.length;
    this.top = new Int32Array(groups * KEEP);
    this.topDigests = new Uint32Array(groups * KEEP * 4);
    this.topLength = new Uint8Array(groups);
  }

  /** The active set to rank (names already checked against config); the lists catch up on first use. */
  sync(active: ReadonlySet<string>): void {
    this.pending = active;
  }

  // Deferred so that configs whose groups never reach the ranker (flip's, all-preferred) hash nothing.
  private catchUp(active: ReadonlySet<string>): void {
    this.pending = undefined;
    const leaving: number[] = [];
    this.isActive.forEach((flag, index) => {
      if (flag === 1 && !active.has(this.names[index]!)) leaving.push(index);
    });
    if (leaving.length > 0) this.forget(leaving);
    for (const name of active) {
      const index = this.indexOf.get(name)!;
      if (this.isActive[index] === 0) this.admit(index);
    }
  }

  first(group: VipGroup, accept: (group: VipGroup, node: string) => boolean): string | undefined {
    if (this.pending !== undefined) this.catchUp(this.pending);
    const g = group.index;
    const known = this.topLength[g]!;
    for (let j = 0; j < known; j++) {
      const name = this.names[this.top[g * KEEP + j]!]!;
      if (accept(group, name)) return name;
    }
    if (known === this.activeCount) return undefined;
    // The list ran out before the caller found a node it takes: rank this group in full.
    const full = this.rankInFull(g);
    for (let j = known; j < full.length; j++) {
      const name = this.names[full[j]!]!;
      if (accept(group, name)) return name;
    }
    return undefined;
  }

  private forget(leaving: readonly number[]): void {
    for (const index of leaving) this.isActive[index] = 0;
    this.activeCount -= leaving.length;
    for (let g = 0; g < this.topLength.length; g++) {
      let kept = 0;
      for (let j = 0; j < this.topLength[g]!; j++) {
        const node = this.top[g * KEEP + j]!;
        if (this.isActive[node] === 0) continue;
        if (kept !== j) this.moveEntry(g, j, kept);
        kept++;
      }
      this.topLength[g] = kept;
    }
  }

  private admit(node: number): void {
    const prefix = this.prefixes[node]!;
    const digest = this.digest;
    for (let g = 0; g < this.topLength.length; g++) {
      const length = this.topLength[g]!;
      md5Into(prefix, this.keys[g]!, digest, 0);
      let position = length;
      while (position > 0 && this.precedes(digest, 0, node, g, position - 1)) position--;
      // Behind the whole list: it is known to come next only when the list is the whole ranking.
      if (position === length && !(length === this.activeCount && length < KEEP)) continue;
      const last = Math.min(length, KEEP - 1);
      for (let j = last; j > position; j--) this.moveEntry(g, j - 1, j);
      this.setEntry(g, position, node, digest, 0);
      this.topLength[g] = Math.min(length + 1, KEEP);
    }
    this.isActive[node] = 1;
    this.activeCount++;
  }

  /** All active nodes for group g, best first; refills the group's list from it. */
  private rankInFull(g: number): number[] {
    const nodes: number[] = [];
    this.isActive.forEach((flag, index) => {
      if (flag === 1) nodes.push(index);
    });
    const digests = new Uint32Array(nodes.length * 4);
    nodes.forEach((node, i) => md5Into(this.prefixes[node]!, this.keys[g]!, digests, i * 4));
    const order = nodes.map((_, i) => i).sort((i, j) => this.compare(digests, i * 4, nodes[i]!, digests, j * 4, nodes[j]!));
    const length = Math.min(KEEP, order.length);
    for (let j = 0; j < length; j++) this.setEntry(g, j, nodes[order[j]!]!, digests, order[j]! * 4);
    this.topLength[g] = length;
    return order.map((i) => nodes[i]!);
  }

  /** Does (digest, node) rank before entry j of group g's list? */
  private precedes(digest: Uint32Array, offset: number, node: number, g: number, j: number): boolean {
    const slot = g * KEEP + j;
    return this.compare(digest, offset, node, this.topDigests, slot * 4, this.top[slot]!) < 0;
  }

  /** vippy's order of `md5hex + ":" + node`: digest words first, then the name on a tie. */
  private compare(a: Uint32Array, aOffset: number, aNode: number, b: Uint32Array, bOffset: number, bNode: number): number {
    for (let w = 0; w < 4; w++) {
      const x = a[aOffset + w]!;
      const y = b[bOffset + w]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    const aName = this.names[aNode]!;
    const bName = this.names[bNode]!;
    return aName < bName ? -1 : aName > bName ? 1 : 0;
  }

  private setEntry(g: number, j: number, node: number, digests: Uint32Array, offset: number): void {
    const slot = g * KEEP + j;
    this.top[slot] = node;
    for (let w = 0; w < 4; w++) this.topDigests[slot * 4 + w] = digests[offset + w]!;
  }

  private moveEntry(g: number, from: number, to: number): void {
    const source = g * KEEP + from;
    const target = g * KEEP + to;
    this.top[target] = this.top[source]!;
    this.topDigests.copyWithin(target * 4, source * 4, source * 4 + 4);
  }
}
