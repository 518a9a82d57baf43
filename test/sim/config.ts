// Cluster configs for the simulator: a compact description turned into a ClusterConfig the way
// src/config would normalize it. The fingerprint covers groups and nodes (not interfaces).

import { createHash } from 'node:crypto';
import type { ClusterConfig, NoQuorumPolicy, PlacementStrategy, VipGroup } from '../../src/config/model.js';

export interface SimConfigSpec {
  nodes: string[];
  /** Number of groups; group i holds 192.0.2.(10+i)/24, then 192.0.2.(60+i), ... for larger groups. */
  groups: number;
  /** group index → preferred node */
  prefer?: Record<number, string>;
  /** group index → number of addresses (default 1) */
  sizes?: Record<number, number>;
  /** group index → interface (default eth0) */
  interfaces?: Record<number, string>;
  version?: number;
  /** Shifts the addresses, to make a same-version config with different content. */
  variant?: number;
  quorum?: number;
  policy?: NoQuorumPolicy;
  placement?: PlacementStrategy;
  preempt?: boolean;
  preemptDelayMs?: number;
  intervalMs?: number;
  staleMs?: number;
  matureMs?: number;
  guardMs?: number;
  /** Health checks: name → the groups it covers ("all": a node check) and its when_all_fail policy. */
  checks?: Record<string, { groups: number[] | 'all'; whenAllFail: 'keep' | 'release' }>;
}

export function simConfig(spec: SimConfigSpec): ClusterConfig {
  const groups: VipGroup[] = Array.from({ length: spec.groups }, (_, index) => {
    const ips = Array.from({ length: spec.sizes?.[index] ?? 1 }, (_, k) => `192.0.2.${10 + index + k * 50 + (spec.variant ?? 0) * 100}`).sort();
    const group: VipGroup = {
      index,
      key: ips[0]!,
      addresses: ips.map((ip) => ({ interface: spec.interfaces?.[index] ?? 'eth0', ip, family: 4 as const, prefixLength: 24, netmask: '255.255.255.0', broadcast: '192.0.2.255', network: '192.0.2.0' })),
    };
    const preferred = spec.prefer?.[index];
    if (preferred !== undefined) group.preferred = preferred;
    const checks = Object.entries(spec.checks ?? {}).filter(([, check]) => check.groups !== 'all' && check.groups.includes(index)).map(([name]) => name);
    if (checks.length > 0) group.checks = checks;
    return group;
  });
  const nodes = spec.nodes.map((name) => ({ name }));
  const canonical = JSON.stringify({
    groups: groups.map((g) => [g.preferred ?? null, ...g.addresses.map((a) => `${a.ip}/${a.prefixLength}`)]),
    nodes: spec.nodes,
  });
  const quorum = spec.quorum ?? 1;
  return {
    format: 'vippy',
    version: spec.version ?? 1,
    secret: 'simulated',
    chat: { mode: 'multicast', address: '239.0.0.1', port: 5000, interface: 'all', ttl: 1 },
    nodes,
    groups,
    timing: {
      intervalMs: spec.intervalMs ?? 1000,
      matureMs: spec.matureMs ?? 5000,
      staleMs: spec.staleMs ?? 3000,
      guardMs: spec.guardMs ?? 1000,
      arpCacheMs: 15000,
      preemptDelayMs: spec.preemptDelayMs ?? 0,
    },
    quorum,
    noQuorumPolicy: spec.policy ?? (quorum > 1 ? 'stop' : 'ignore'),
    placement: spec.placement ?? 'vippy',
    preempt: spec.preempt ?? true,
    notify: [{ kind: 'arp-cache' }],
    arp: { burstCount: 5, burstSpacingMs: 200, repeatDelayMs: 5000, refreshIntervalMs: 0, notifyRate: 50 },
    management: { path: '/tmp/vippy.sock', mode: 0o600 },
    logging: { driver: 'none', facility: 'local7', mask: { emerg: true, alert: true, crit: true, err: true, warning: true, notice: true, info: false, debug: false }, json: false },
    plugins: [],
    checks: Object.entries(spec.checks ?? {}).map(([name, check]) => ({
      name, kind: 'file' as const, path: `/run/${name}`, node: check.groups === 'all',
      intervalMs: 1000, timeoutMs: 1000, rise: 1, fall: 1, initial: 'pass' as const, whenAllFail: check.whenAllFail,
    })),
    fingerprint: createHash('sha256').update(canonical).digest('hex'),
  };
}
