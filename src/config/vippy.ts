// A validated vippy file → ClusterConfig: defaults that depend on other keys, cross-checks,
// and vippy's normalized address shape.

import { canonicalIp, isMulticast, networkOf, parseCidr, parseHostPort, vipAddress } from './addresses.js';
import type { ClusterConfig, NodeSpec, NotifyTarget, SyslogLevel, VipGroup } from './model.js';
import { checkNames, normalizeChecks, warnUnusedChecks } from './checks.js';
import { ms, type Report } from './report.js';
import { syslogLevels, type VippyFile } from './schema.js';

/** The original console logger's mask: emerg, alert, crit, err, notice on; warning, info, debug off. */
export const defaultLogMask: Readonly<Record<SyslogLevel, boolean>> = {
  emerg: true, alert: true, crit: true, err: true, warning: false, notice: true, info: false, debug: false,
};

/** Notify networks are expanded to every address: refuse sizes that would take hours to work through. */
const maxNotifyHostBits = 16;

export type UnfingerprintedConfig = Omit<ClusterConfig, 'fingerprint'>;

export function normalizeVippy(file: VippyFile, report: Report): UnfingerprintedConfig {
  const chat = parseHostPort(file.chat)!;
  const nodes = normalizeNodes(file, chat.port, report);
  const unicast = nodes.length > 0 && nodes.every((node) => node.address !== undefined);
  checkChatAddress(chat.host, unicast, report);

  const checks = normalizeChecks(file.checks, report);
  const groups = normalizeGroups(file.vips, new Set(nodes.map((node) => node.name)), new Set(Object.keys(file.checks)), report);
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
    notify: normalizeNotify(file.notify, report),
    arp: {
      burstCount: file.arp.burst_count,
      burstSpacingMs: ms(file.arp.burst_spacing),
      repeatDelayMs: ms(file.arp.repeat_delay),
      refreshIntervalMs: ms(file.arp.refresh),
      notifyRate: file.arp.notify_rate,
    },
    ...operatorSettings(file),
    checks,
    logging: {
      driver: file.logging.driver,
      facility: file.logging.facility,
      mask: logMask(file.logging.mask),
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
    report.warn(`address_lease (${given} s) outlives a takeover: a killed or frozen holder may keep its addresses up to ${given - safe} s after a peer takes them over (at most ${safe} s avoids that)`);
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

function logMask(given: Partial<Record<SyslogLevel, boolean | undefined>> | undefined): Record<SyslogLevel, boolean> {
  if (given === undefined) return { ...defaultLogMask };
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
  } else if (!unicast && !isMulticast(address.ip)) {
    report.error(['chat'], `"${host}" is not a multicast address (for unicast chat, give every node an address)`);
  }
}

type FileGroup = VippyFile['vips'][number];

function normalizeGroups(vips: readonly FileGroup[], nodeNames: ReadonlySet<string>, checkNamesDefined: ReadonlySet<string>, report: Report): VipGroup[] {
  const owners = new Map<string, string>();
  return vips.map((entries, index) => {
    let preferred: string | undefined;
    let checks: string[] | undefined;
    const addresses: VipGroup['addresses'] = [];
    entries.forEach((entry, position) => {
      if (typeof entry === 'object' && 'checks' in entry) {
        if (checks !== undefined) report.error(['vips', index, position], 'a group has at most one {"checks"} element');
        else checks = checkNames(entry.checks, checkNamesDefined, ['vips', index, position, 'checks'], report);
        return;
      }
      if (typeof entry === 'string') {
        if (position !== 0) report.error(['vips', index, position], 'a node name may only be the first element of a group (the preferred node)');
        else if (!nodeNames.has(entry)) report.error(['vips', index, position], `preferred node "${entry}" is not in nodes`);
        else preferred = entry;
        return;
      }
      const address = parseCidr(entry.ip)!;
      const here = `vips[${index}][${position}]`;
      const other = owners.get(address.ip);
      if (other !== undefined) report.error(['vips', index, position, 'ip'], `${address.ip} is already in ${other}: an address belongs to one group`);
      else owners.set(address.ip, here);
      addresses.push(vipAddress(entry.interface, address, entry.state));
    });
    if (addresses.length === 0) report.error(['vips', index], 'group has no addresses');
    // vippy sorts each group by ip string; its first ip is the rendezvous key.
    addresses.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    return {
      index,
      key: addresses[0]?.ip ?? '',
      ...(preferred === undefined ? {} : { preferred }),
      addresses,
      ...(checks === undefined || checks.length === 0 ? {} : { checks }),
    };
  });
}

function normalizeNotify(entries: VippyFile['notify'], report: Report): NotifyTarget[] {
  const targets: NotifyTarget[] = [];
  entries.forEach((entry, index) => {
    if (entry === 'arp-cache') {
      if (!targets.some((target) => target.kind === 'arp-cache')) targets.push({ kind: 'arp-cache' });
      return;
    }
    const address = parseCidr(entry.ip)!;
    const hostBits = (address.family === 4 ? 32 : 128) - address.prefixLength;
    if (hostBits > maxNotifyHostBits) {
      report.error(['notify', index, 'ip'], `/${address.prefixLength} is too large to notify every address (at most ${2 ** maxNotifyHostBits}: /${address.family === 4 ? 16 : 112} or longer)`);
      return;
    }
    targets.push({ kind: 'network', interface: entry.interface, family: address.family, network: networkOf(address), prefixLength: address.prefixLength });
  });
  return targets;
}
