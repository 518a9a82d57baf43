// A validated vippy file → ClusterConfig: defaults that depend on other keys, cross-checks,
// and vippy's normalized address shape.

import ipaddr from 'ipaddr.js';
import { canonicalIp, isIpv4Multicast, networkOf, parseCidr, parseHostPort, vipAddress } from './addresses.js';
import type { AnnounceMode, ClusterConfig, NodeSpec, NotifyTarget, RoutedSettings, SyslogLevel, VipGroup } from './model.js';
import { checkNames, normalizeChecks, warnUnusedChecks } from './checks.js';
import { ms, type Report } from './report.js';
import { syslogLevels, type VippyFile } from './schema.js';

/** The original console logger's mask: emerg, alert, crit, err, notice on; warning, info, debug off. */
export const defaultLogMask: Readonly<Record<SyslogLevel, boolean>> = {
  emerg: true, alert: true, crit: true, err: true, warning: false, notice: true, info: false, debug: false,
};

/**
 * Addresses from notify networks told per VIP and takeover: a /8 would otherwise take hours at
 * notify_rate and hold a hit-list of 16 million. Hosts from the arp-cache are always told.
 */
export const NOTIFY_NETWORK_BUDGET = 65_536;

export type UnfingerprintedConfig = Omit<ClusterConfig, 'fingerprint'>;

export function normalizeVippy(file: VippyFile, report: Report): UnfingerprintedConfig {
  const chat = parseHostPort(file.chat)!;
  const nodes = normalizeNodes(file, chat.port, report);
  const unicast = nodes.length > 0 && nodes.every((node) => node.address !== undefined);
  checkChatAddress(chat.host, unicast, report);

  const routed = routedSettings(file.announce);
  const checks = normalizeChecks(file.checks, report);
  const groups = normalizeGroups(file.vips, new Set(nodes.map((node) => node.name)), routed, new Set(Object.keys(file.checks)), report);
  warnUnusedChecks(checks, new Set(groups.flatMap((group) => group.checks ?? [])), report);

  if (file.stale <= file.interval) {
    report.error(['stale'], `must be greater than interval (${file.interval} s), or every peer goes stale between announcements`);
  } else if (file.stale < 2 * file.interval) {
    report.warn(`stale (${file.stale} s) is less than two intervals (${file.interval} s): one lost announcement marks a peer down`);
  }
  if (file.secret.length < 16) report.warn('secret is shorter than 16 characters: use a long random string');

  const quorum = file.quorum ?? 1;
  if (quorum > nodes.length) report.error(['quorum'], `must be at most the number of nodes (${nodes.length})`);
  if (quorum === 1 && (file.no_quorum_policy === 'stop' || file.no_quorum_policy === 'freeze')) {
    report.error(['no_quorum_policy'], `"${file.no_quorum_policy}" has no effect with quorum 1 (one node is always a quorum); set quorum or remove it`);
  }
  const guard = file.takeover_guard ?? (quorum > 1 ? file.interval : 0);
  if (quorum > 1 && guard < file.interval) {
    report.error(['takeover_guard'], `must be at least interval (${file.interval} s) when quorum > 1, so a partitioned holder lets go before anyone takes over`);
  }

  return {
    format: 'vippy',
    version: file.version,
    secret: file.secret,
    chat: { mode: unicast ? 'unicast' : 'multicast', address: canonicalIp(chat.host)?.ip ?? chat.host, port: chat.port, interface: file.chat_interface, ttl: file.chat_ttl },
    nodes,
    groups,
    timing: {
      intervalMs: ms(file.interval),
      matureMs: ms(file.mature),
      staleMs: ms(file.stale),
      guardMs: ms(guard),
      arpCacheMs: ms(Number(file['arp-cache'])),
      preemptDelayMs: ms(file.preempt_delay),
      leaseSeconds: addressLease(file.address_lease, { intervalMs: ms(file.interval), staleMs: ms(file.stale), guardMs: ms(guard) }, report),
    },
    quorum,
    noQuorumPolicy: quorum === 1 ? 'ignore' : (file.no_quorum_policy ?? 'stop'),
    placement: file.placement,
    preempt: file.preempt,
    notify: normalizeNotify(file.notify, groups, report),
    arp: {
      burstCount: file.arp.burst_count,
      burstSpacingMs: ms(file.arp.burst_spacing),
      repeatDelayMs: ms(file.arp.repeat_delay),
      refreshIntervalMs: ms(file.arp.refresh),
      notifyRate: file.arp.notify_rate,
      notifyBudget: NOTIFY_NETWORK_BUDGET,
    },
    routed,
    ...operatorSettings(file),
    checks,
    logging: {
      driver: file.logging.driver,
      facility: file.logging.facility,
      mask: logMask(file.logging.driver, file.logging.mask),
      json: file.logging.json,
    },
  };
}

/**
 * `address_lease` or its default. A holder that dies right after renewing and one interval after
 * its last announcement loses its addresses at most lease + 1 s later (the kernel checks
 * lifetimes once a second), while peers take over stale + guard after that announcement: the
 * default is the longest lease that still expires first. Longer leases tolerate longer stalls of
 * a live daemon, so they are allowed, with a warning.
 */
export function addressLease(given: number | undefined, timing: { intervalMs: number; staleMs: number; guardMs: number }, report: Report): number {
  const safe = Math.max(1, Math.floor((timing.staleMs + timing.guardMs - timing.intervalMs) / 1000) - 1);
  if (given !== undefined && given > safe) {
    report.warn(`address_lease (${given} s) outlives a takeover: should the fence keeper die with a killed or frozen holder, its addresses may stay up to ${given - safe} s after a peer takes them over (at most ${safe} s avoids that)`);
  }
  return given ?? safe;
}

/** Keys that vippy and flip files share (management socket, metrics, plugins). */
export function operatorSettings(file: Pick<VippyFile, 'management' | 'management_mode' | 'management_group' | 'metrics' | 'plugins'>) {
  const mode = typeof file.management_mode === 'string' ? parseInt(file.management_mode, 8) : file.management_mode;
  return {
    management: {
      path: file.management,
      mode,
      ...(file.management_group === undefined ? {} : { group: String(file.management_group) }),
    },
    plugins: file.plugins,
    ...(file.metrics === undefined ? {} : { metrics: { listen: file.metrics.listen } }),
  };
}

/** Without a mask, syslog gets every level (the original set no mask), the console the original console logger's. */
function logMask(driver: VippyFile['logging']['driver'], given: Partial<Record<SyslogLevel, boolean | undefined>> | undefined): Record<SyslogLevel, boolean> {
  if (given === undefined) {
    return driver === 'syslog' ? Object.fromEntries(syslogLevels.map((level) => [level, true])) as Record<SyslogLevel, boolean> : { ...defaultLogMask };
  }
  // Like setlogmask(): a level the mask does not mention is not logged.
  return Object.fromEntries(syslogLevels.map((level) => [level, given[level] ?? false])) as Record<SyslogLevel, boolean>;
}

function normalizeNodes(file: VippyFile, chatPort: number, report: Report): NodeSpec[] {
  const named = file.nodes.filter((node) => typeof node === 'string').length;
  if (named > 0 && named < file.nodes.length) {
    report.error(['nodes'], 'mixes names and {"name", "address"} objects: give every node an address (unicast chat) or none (multicast chat)');
  }
  const nodes: NodeSpec[] = [];
  const names = new Map<string, number>();
  const endpoints = new Map<string, number>();
  file.nodes.forEach((entry, index) => {
    const node: NodeSpec = typeof entry === 'string'
      ? { name: entry }
      : { name: entry.name, address: canonicalIp(entry.address)!.ip, port: entry.port ?? chatPort };
    const previous = names.get(node.name);
    if (previous !== undefined) report.error(['nodes', index], `duplicate node name "${node.name}" (also nodes[${previous}])`);
    else names.set(node.name, index);
    if (node.address !== undefined) {
      const endpoint = `${node.address} port ${node.port}`;
      const other = endpoints.get(endpoint);
      if (other !== undefined) report.error(['nodes', index, 'address'], `${endpoint} is already used by nodes[${other}]`);
      else endpoints.set(endpoint, index);
    }
    nodes.push(node);
  });
  return nodes;
}

function checkChatAddress(host: string, unicast: boolean, report: Report): void {
  const address = canonicalIp(host);
  if (address === undefined) {
    report.error(['chat'], `"${host}" is not an IP address`);
  } else if (!unicast && !isIpv4Multicast(address.ip)) {
    report.error(['chat'], `"${host}" is not an IPv4 multicast address (for unicast chat, give every node an address)`);
  }
}

export function routedSettings(announce: VippyFile['announce']): RoutedSettings {
  return {
    defaultMode: announce.mode,
    interface: announce.interface,
    ...(announce.table === undefined ? {} : { table: announce.table }),
    protocol: announce.protocol,
  };
}

type FileGroup = VippyFile['vips'][number];
type FileGroupEntry = FileGroup[number];

/** A group's own `{"announce": ...}` element, if it has one. */
export function groupAnnounceOption(entries: readonly FileGroupEntry[]): AnnounceMode | undefined {
  for (const entry of entries) if (typeof entry === 'object' && 'announce' in entry) return entry.announce;
  return undefined;
}

function normalizeGroups(vips: readonly FileGroup[], nodeNames: ReadonlySet<string>, routed: RoutedSettings, checkNamesDefined: ReadonlySet<string>, report: Report): VipGroup[] {
  const owners = new Map<string, string>();
  return vips.map((entries, index) => {
    let preferred: string | undefined;
    let checks: string[] | undefined;
    const announceOption = groupAnnounceOption(entries);
    const announce = announceOption ?? routed.defaultMode;
    const addresses: VipGroup['addresses'] = [];
    let options = 0;
    let entriesWithIp = 0;
    entries.forEach((entry, position) => {
      if (typeof entry === 'string') {
        if (position !== 0) report.error(['vips', index, position], 'a node name may only be the first element of a group (the preferred node)');
        else if (!nodeNames.has(entry)) report.error(['vips', index, position], `preferred node "${entry}" is not in nodes`);
        else preferred = entry;
        return;
      }
      if (!('ip' in entry)) {
        if (++options > 1) report.error(['vips', index, position], 'a group may hold one options element ({"announce"}, {"checks"} or both in one)');
        else if (entry.checks !== undefined) checks = checkNames(entry.checks, checkNamesDefined, ['vips', index, position, 'checks'], report);
        return;
      }
      entriesWithIp++;
      const address = parseCidr(entry.ip)!;
      const here = `vips[${index}][${position}]`;
      const other = owners.get(address.ip);
      if (other !== undefined) report.error(['vips', index, position, 'ip'], `${address.ip} is already in ${other}: an address belongs to one group`);
      else owners.set(address.ip, here);
      const hostLength = address.family === 4 ? 32 : 128;
      if (announce === 'routed') {
        if (address.prefixLength !== hostLength) {
          report.error(['vips', index, position, 'ip'], `a routed group announces host routes: write ${address.ip}/${hostLength} (or leave out the length)`);
        }
        if (entry.interface !== undefined && entry.interface !== routed.interface) {
          report.error(['vips', index, position, 'interface'], `a routed group is plumbed on announce.interface ("${routed.interface}"): leave out interface or give that name`);
        }
        addresses.push(vipAddress(routed.interface, address, entry.state));
        return;
      }
      if (entry.interface === undefined) {
        report.error(['vips', index, position, 'interface'], 'is required in an l2 group: the network interface the address is plumbed on');
        return;
      }
      addresses.push(vipAddress(entry.interface, address, entry.state));
    });
    if (entriesWithIp === 0) report.error(['vips', index], 'group has no addresses');
    // vippy sorts each group by ip string; its first ip is the rendezvous key.
    addresses.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    return {
      index,
      key: addresses[0]?.ip ?? '',
      ...(preferred === undefined ? {} : { preferred }),
      addresses,
      announce,
      ...(announceOption === undefined ? {} : { announceOption }),
      ...(checks === undefined || checks.length === 0 ? {} : { checks }),
    };
  });
}

function normalizeNotify(entries: VippyFile['notify'], groups: readonly VipGroup[], report: Report): NotifyTarget[] {
  const targets: NotifyTarget[] = [];
  entries.forEach((entry, index) => {
    if (entry === 'arp-cache') {
      if (!targets.some((target) => target.kind === 'arp-cache')) targets.push({ kind: 'arp-cache' });
      return;
    }
    const address = parseCidr(entry.ip)!;
    const overBudget = address.family === 4 ? overNotifyBudget(address, groups) : undefined;
    if (overBudget !== undefined) {
      report.warn(`notify[${index}] ${entry.ip}: its overlap with ${overBudget} has more than ${NOTIFY_NETWORK_BUDGET} addresses; each takeover notifies the first ${NOTIFY_NETWORK_BUDGET} of them (plus every arp-cache host)`);
    }
    targets.push({ kind: 'network', interface: entry.interface, family: address.family, network: networkOf(address), prefixLength: address.prefixLength });
  });
  return targets;
}

/** The first IPv4 VIP whose subnet shares more than the notify budget with `network` (as "ip/len"). */
function overNotifyBudget(network: { ip: string; prefixLength: number }, groups: readonly VipGroup[]): string | undefined {
  for (const group of groups) {
    for (const vip of group.addresses) {
      if (vip.family !== 4) continue;
      // Two prefixes overlap in the longer one (or not at all); its size is the overlap's.
      const overlap = 2 ** (32 - Math.max(vip.prefixLength, network.prefixLength));
      const common = Math.min(vip.prefixLength, network.prefixLength);
      if (overlap > NOTIFY_NETWORK_BUDGET && ipaddr.IPv4.parse(vip.ip).match(ipaddr.IPv4.parse(network.ip), common)) return `${vip.ip}/${vip.prefixLength}`;
    }
  }
  return undefined;
}
