// The cluster-wide identity of a config: what every node must agree on to compute the same
// placement. Interface names and the version are left out, so hosts whose NICs are named
// differently agree, and graduation compares content rather than numbers.

import { createHash } from 'node:crypto';
import type { ClusterConfig } from './model.js';

/** JSON with object keys sorted at every level: equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) return inner;
    return Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

type FingerprintInput = Pick<ClusterConfig, 'groups' | 'nodes'> & Partial<Pick<ClusterConfig, 'systems'>>;

export function fingerprint(config: FingerprintInput): string {
  const vips = config.groups.map((group) => {
    const addresses = group.addresses.map((address) => `${address.ip}/${address.prefixLength}`);
    if (group.system !== undefined) return { system: group.system, point: group.point, addresses };
    // A group's own announce element is cluster-wide (it travels with the vips); left out when
    // absent so that configs without one keep their fingerprints.
    const withOption = group.announceOption === undefined ? addresses : [...addresses, { announce: group.announceOption }];
    return group.preferred === undefined ? withOption : [group.preferred, ...withOption];
  });
  const nodes = config.nodes.map((node) => {
    const { name, ...rest } = node;
    return Object.keys(rest).length === 0 ? name : node;
  });
  // flip: a system's type decides placement, so it is part of what must match.
  const systems = config.systems?.map((system) => ({ name: system.name, type: system.type }));
  const document = systems === undefined ? { vips, nodes } : { vips, nodes, systems };
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}
