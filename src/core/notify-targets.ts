// Who to tell when this node brings a group up: for every IPv4 address of the group, the hosts
// from the `notify` targets ("arp-cache" = the cluster's shared neighbour tables; a network =
// every address in it) that lie inside that VIP's own subnet, as the original vippy did.
// IPv6 VIPs are announced with one unsolicited NA to all-nodes, so they need no hit-list.

import type { NotifyTarget, VipGroup } from '../config/model.js';
import type { ArpEntry } from './types.js';
import { contains, intersect, ipv4Subnet, numberToIpv4 } from './ipv4-range.js';

/** One host to send a gratuitous ARP to, on behalf of one VIP. `mac` when known (unicast too). */
export interface NotifyHost { vip: string; interface: string; ip: string; mac?: string; }

const INCOMPLETE_MAC = '00:00:00:00:00:00';

/** `networkBudget`: addresses taken from notify networks per VIP (the first ones of each range, in notify order). */
export function notifyHosts(group: VipGroup, notify: readonly NotifyTarget[], arpEntries: readonly ArpEntry[], networkBudget = Infinity): NotifyHost[] {
  const ownIps = new Set(group.addresses.map((address) => address.ip));
  const hosts: NotifyHost[] = [];
  for (const address of group.addresses) {
    if (address.family !== 4) continue;
    const subnet = ipv4Subnet(address.ip, address.prefixLength);
    const byIp = new Map<string, NotifyHost>();
    let budget = networkBudget;
    const add = (ip: string, mac: string | undefined) => {
      if (ownIps.has(ip)) return;
      const known = byIp.get(ip);
      const usableMac = mac !== undefined && mac !== INCOMPLETE_MAC ? mac : undefined;
      if (known === undefined) {
        const host: NotifyHost = { vip: address.ip, interface: address.interface, ip };
        if (usableMac !== undefined) host.mac = usableMac;
        byIp.set(ip, host);
      } else if (known.mac === undefined && usableMac !== undefined) {
        known.mac = usableMac;
      }
    };
    for (const target of notify) {
      if (target.kind === 'arp-cache') {
        for (const entry of arpEntries) if (contains(subnet, entry.ip)) add(entry.ip, entry.mac);
      } else if (target.family === 4) {
        const range = intersect(subnet, ipv4Subnet(target.network, target.prefixLength));
        if (range === undefined) continue;
        const last = Math.min(range.last, range.first + budget - 1);
        budget -= Math.max(0, last - range.first + 1);
        for (let value = range.first; value <= last; value++) add(numberToIpv4(value), undefined);
      }
    }
    hosts.push(...byIp.values());
  }
  return hosts;
}
