// A validated flip file (nanopack/flip v1) → ClusterConfig: servers become unicast nodes in
// flip's member order, each (system, data point) becomes one group.

import { parseCidr, vipAddress } from './addresses.js';
import type { FlipSystem, NodeSpec, SyslogLevel, VipGroup } from './model.js';
import { checkNames, normalizeChecks, warnUnusedChecks } from './checks.js';
import { type Report } from './report.js';
import { syslogLevels, type FlipFile } from './schema.js';
import { NOTIFY_NETWORK_BUDGET, addressLease, operatorSettings, type UnfingerprintedConfig } from './vippy.js';

/** flip's log levels → the lowest syslog level still logged. */
const lowestLevel: Record<FlipFile['log_level'], SyslogLevel> = {
  debug: 'debug', info: 'info', warning: 'warning', error: 'err', fatal: 'crit',
};

/** flip's sorted_servers: servers with a priority first (lower first), then the rest; ties by id. */
export function flipMemberOrder(servers: FlipFile['servers']): string[] {
  return Object.keys(servers).sort((a, b) => {
    const pa = servers[a]!.priority ?? Infinity;
    const pb = servers[b]!.priority ?? Infinity;
    if (pa !== pb) return pa < pb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
}

export function normalizeFlip(file: FlipFile, report: Report): UnfingerprintedConfig {
  const serverIds = Object.keys(file.servers);
  if (serverIds.length === 0) report.error(['servers'], 'must name at least one server');
  const self = file.servers[file.id];
  if (self === undefined) report.error(['id'], `"${file.id}" is not a key of servers`);

  const checks = normalizeChecks(file.checks, report);
  const definedChecks = new Set(Object.keys(file.checks));
  const systems = Object.entries(file.cluster.system).map(([name, system]): FlipSystem => {
    const systemChecks = system.checks === undefined ? [] : checkNames(system.checks, definedChecks, ['cluster', 'system', name, 'checks'], report);
    if ((system.alive === undefined) !== (system.down === undefined)) {
      report.error(['cluster', 'system', name], 'give both "alive" and "down" scripts, or neither (built-in VIP plumbing)');
    }
    const data = [...new Set(system.data)].sort();
    if (data.length < system.data.length) {
      const duplicate = system.data.find((point, index) => system.data.indexOf(point) !== index);
      report.error(['cluster', 'system', name, 'data'], `duplicate data point "${duplicate}"`);
    }
    return {
      name,
      type: system.type === 'shard' || system.type === 'sharded' ? 'shard' : 'replicated',
      ...(system.alive === undefined ? {} : { alive: system.alive }),
      ...(system.down === undefined ? {} : { down: system.down }),
      config: { ...file.cluster.config, ...system.config },
      data,
      delayMs: system.delay,
      ...(systemChecks.length === 0 ? {} : { checks: systemChecks }),
      removeOnStart: system.remove_on_start ?? file.cluster.remove_on_start,
    };
  });
  warnUnusedChecks(checks, new Set(systems.flatMap((system) => system.checks ?? [])), report);

  const endpoints = new Map<string, string>();
  const nodes = flipMemberOrder(file.servers).map((id): NodeSpec => {
    const server = file.servers[id]!;
    const address = parseCidr(server.ip)!.ip;
    const endpoint = `${address} port ${server.port}`;
    const other = endpoints.get(endpoint);
    if (other !== undefined) report.error(['servers', id, 'port'], `${endpoint} is already used by server "${other}"`);
    else endpoints.set(endpoint, id);
    server.systems.forEach((system, index) => {
      if (!(system in file.cluster.system)) report.error(['servers', id, 'systems', index], `"${system}" is not a system of cluster.system`);
    });
    return { name: id, address, port: server.port, ...(server.priority === undefined ? {} : { priority: server.priority }), systems: server.systems };
  });

  const quorum = file.quorum ?? Math.floor(serverIds.length / 2) + 1;
  if (file.quorum !== undefined && file.quorum > serverIds.length) {
    report.error(['quorum'], `must be at most the number of servers (${serverIds.length})`);
  }
  if (file.ping_timeout <= file.gossip_interval) {
    report.error(['ping_timeout'], `must be greater than gossip_interval (${file.gossip_interval} ms)`);
  }
  if (file.key.length < 16) report.warn('key is shorter than 16 characters: it is the HMAC key, use a long random string');

  const guardMs = quorum > 1 ? file.gossip_interval : 0;
  const lowest = syslogLevels.indexOf(lowestLevel[file.log_level]);
  return {
    format: 'flip',
    version: file.version,
    secret: file.key,
    chat: { mode: 'unicast', address: self === undefined ? '' : parseCidr(self.ip)!.ip, port: self?.port ?? 0, interface: 'all', ttl: 1 },
    nodes,
    groups: flipGroups(systems, report),
    timing: {
      intervalMs: file.gossip_interval,
      // flip acts on its view at once; listening one timeout first avoids claiming a peer's points at start.
      matureMs: file.ping_timeout,
      staleMs: file.ping_timeout,
      guardMs,
      arpCacheMs: 15_000,
      preemptDelayMs: 0,
      leaseSeconds: addressLease(file.address_lease, { intervalMs: file.gossip_interval, staleMs: file.ping_timeout, guardMs }, report),
    },
    quorum,
    noQuorumPolicy: quorum === 1 ? 'ignore' : (file.no_quorum_policy ?? 'freeze'),
    placement: systems[0]?.type ?? 'shard',
    preempt: true,
    notify: [{ kind: 'arp-cache' }],
    arp: { burstCount: 5, burstSpacingMs: 20, repeatDelayMs: 5000, refreshIntervalMs: 0, notifyRate: 500, notifyBudget: NOTIFY_NETWORK_BUDGET },
    ...operatorSettings(file),
    checks,
    logging: {
      driver: 'console',
      facility: 'local7',
      mask: Object.fromEntries(syslogLevels.map((level, index) => [level, index <= lowest])) as Record<SyslogLevel, boolean>,
      json: false,
    },
    systems,
    releaseOnStop: file.cluster.remove_on_failure,
    localNode: file.id,
  };
}

function flipGroups(systems: FlipSystem[], report: Report): VipGroup[] {
  const groups: VipGroup[] = [];
  const owners = new Map<string, string>();
  for (const system of systems) {
    const path = ['cluster', 'system', system.name];
    const scripted = system.alive !== undefined;
    const iface = system.config['interface'];
    for (const point of system.data) {
      const address = parseCidr(point);
      const group: VipGroup = {
        index: groups.length, key: address?.ip ?? point, addresses: [], system: system.name, point,
        ...(system.checks === undefined ? {} : { checks: system.checks }),
      };
      if (address === undefined) {
        if (!scripted) report.error([...path, 'data'], `"${point}" is not an IP address, so the system needs "alive" and "down" scripts`);
      } else if (typeof iface === 'string' && iface !== '') {
        const other = owners.get(address.ip);
        if (other !== undefined) report.error([...path, 'data'], `${address.ip} is already a data point of system "${other}"`);
        else owners.set(address.ip, system.name);
        group.addresses.push(vipAddress(iface, address, undefined));
      } else if (!scripted) {
        report.error([...path, 'config'], 'needs "interface" (here or in cluster.config): its data are addresses plumbed by vippyd');
      }
      groups.push(group);
    }
  }
  return groups;
}
