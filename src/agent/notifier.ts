// The notifier tells the network that this node now answers for a group's addresses: a burst of
// gratuitous ARP (IPv4) / unsolicited NA (IPv6), a repeat burst later, then the notify targets
// core chose (src/core/notify-targets.ts: per IPv4 VIP, the hosts of the shared ARP cache and of
// notify networks inside its subnet), throttled and sent in small chunks from timers so that
// the heartbeat timer on the same event loop is never held up.
//
// Burst frame form: IPv4 rounds alternate request form (RFC 5227 announcement, what keepalived
// and `arping -U` send; Linux takes any request with sender IP = target IP as gratuitous) and
// reply form with target MAC = own MAC (`arping -A`), for stacks that only learn from replies.
// The first frame of a burst is a request.

import type { FrameSender, NativeApi } from '../../bindings/types.js';
import type { ArpSettings, VipAddress, VipGroup } from '../config/model.js';
import type { NotifyHost } from '../core/notify-targets.js';
import { describeError, type AgentLogger } from '../log/logger.js';

export type NotifyReason = 'takeover' | 'conflict-repair' | 'refresh';

export interface NotifierCounters {
  garpRequest: number;
  garpReply: number;
  unsolicitedNa: number;
  /** Replies to a known MAC (ARP-cache targets). */
  arpReplyUnicast: number;
  /** Reply form frames broadcast to a target whose MAC is unknown (notify networks). */
  arpReplyBroadcast: number;
  targetsNotified: number;
  /** Targets whose VIP could not be announced from here (its interface is missing). */
  targetsSkipped: number;
  sendErrors: number;
  /** Longest time one target-sending timer callback held the event loop (ms). */
  longestSliceMs: number;
}

export type NotifierNative = Pick<NativeApi, 'listInterfaces' | 'openFrameSender'>;

export interface NotifierOptions {
  native: NotifierNative;
  arp: ArpSettings;
  log: AgentLogger;
  /** Period of the target-sending timer (default 5 ms). */
  tickMs?: number;
  /** Most targets handled in one timer callback, whatever the rate (default 64). */
  maxTargetsPerTick?: number;
}

const BROADCAST_MAC = 'ff:ff:ff:ff:ff:ff';

type Plumbed = VipAddress & { ifindex: number };

/** Timers of one group's notification; cancelling clears them all. */
class Job {
  private readonly timers = new Set<NodeJS.Timeout>();
  cancelled = false;

  after(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.cancelled) fn();
    }, ms);
    this.timers.add(timer);
  }

  every(ms: number, fn: () => void): void {
    const timer = setInterval(() => {
      if (!this.cancelled) fn();
    }, ms);
    this.timers.add(timer);
  }

  get pending(): boolean {
    return this.timers.size > 0;
  }

  cancel(): void {
    this.cancelled = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

export class Notifier {
  readonly counters: NotifierCounters = {
    garpRequest: 0, garpReply: 0, unsolicitedNa: 0, arpReplyUnicast: 0, arpReplyBroadcast: 0,
    targetsNotified: 0, targetsSkipped: 0, sendErrors: 0, longestSliceMs: 0,
  };
  private readonly native: NotifierNative;
  private readonly log: AgentLogger;
  private readonly tickMs: number;
  private readonly maxTargetsPerTick: number;
  private arp: ArpSettings;
  private frames: FrameSender | undefined;
  private readonly jobs = new Map<number, Job>();

  constructor(options: NotifierOptions) {
    this.native = options.native;
    this.log = options.log;
    this.arp = options.arp;
    this.tickMs = options.tickMs ?? 5;
    this.maxTargetsPerTick = options.maxTargetsPerTick ?? 64;
    // Packet sockets need CAP_NET_RAW: open them at start so a missing capability shows at once.
    this.frames = this.native.openFrameSender();
  }

  /**
   * Announce a group. takeover / conflict-repair: burst, repeat burst, then the targets, and the
   * periodic refresh while held (replacing whatever was running for the group). refresh: one
   * round of gratuitous frames, leaving a running job alone.
   */
  announce(group: VipGroup, reason: NotifyReason, targets: readonly NotifyHost[] = []): void {
    // A routed group's routers learn of it from the host's routing daemon: no ARP/NA at all.
    if (group.announce === 'routed') return;
    const plumbed = this.resolve(group);
    if (reason === 'refresh') {
      this.round(plumbed, 'request');
      return;
    }
    this.cancel(group.index);
    const job = new Job();
    this.jobs.set(group.index, job);
    const { burstCount, burstSpacingMs, repeatDelayMs, refreshIntervalMs } = this.arp;
    this.burst(job, plumbed);
    if (repeatDelayMs > 0) job.after(repeatDelayMs, () => this.burst(job, plumbed));
    if (targets.length > 0) job.after(Math.max(0, burstCount - 1) * burstSpacingMs, () => this.sendTargets(job, group, plumbed, targets));
    if (refreshIntervalMs > 0) job.every(refreshIntervalMs, () => this.round(plumbed, 'request'));
    this.log.info({ group: group.index, reason, addresses: plumbed.length, targets: targets.length }, 'announcing group');
  }

  /** Stop everything scheduled for a group (it was released). */
  cancel(groupIndex: number): void {
    this.jobs.get(groupIndex)?.cancel();
    this.jobs.delete(groupIndex);
  }

  /** Groups with something still scheduled. */
  busy(): number[] {
    return [...this.jobs].filter(([, job]) => job.pending).map(([index]) => index);
  }

  /** New arp settings (reload); they apply to announcements started from now on. */
  setSettings(arp: ArpSettings): void {
    this.arp = arp;
  }

  close(): void {
    for (const index of [...this.jobs.keys()]) this.cancel(index);
    this.frames?.close();
    this.frames = undefined;
  }

  private resolve(group: VipGroup): Plumbed[] {
    const indexOf = new Map(this.native.listInterfaces().map((l) => [l.name, l.index]));
    const plumbed: Plumbed[] = [];
    for (const vip of group.addresses) {
      const ifindex = indexOf.get(vip.interface);
      if (ifindex === undefined) this.log.warn({ group: group.index, interface: vip.interface, address: vip.ip }, 'cannot announce: no such interface');
      else plumbed.push({ ...vip, ifindex });
    }
    return plumbed;
  }

  private burst(job: Job, plumbed: readonly Plumbed[]): void {
    const { burstCount, burstSpacingMs } = this.arp;
    for (let i = 0; i < burstCount; i++) {
      const form = i % 2 === 0 ? 'request' : 'reply';
      if (i === 0 || burstSpacingMs === 0) this.round(plumbed, form);
      else job.after(i * burstSpacingMs, () => this.round(plumbed, form));
    }
  }

  /** One gratuitous frame per address. */
  private round(plumbed: readonly Plumbed[], form: 'request' | 'reply'): void {
    for (const vip of plumbed) {
      const { ifindex } = vip;
      if (vip.family === 6) {
        if (this.send((f) => f.unsolicitedNa(ifindex, vip.ip), vip)) this.counters.unsolicitedNa++;
      } else if (this.send((f) => f.garp(ifindex, vip.ip, form), vip)) {
        if (form === 'request') this.counters.garpRequest++;
        else this.counters.garpReply++;
      }
    }
  }

  /**
   * Work through the targets at arp.notifyRate per second: each timer callback sends what the
   * rate allows since the start (at most maxTargetsPerTick), then yields to the event loop.
   * Core chose the targets (notifyTargets: each host once per VIP whose subnet holds it).
   */
  private sendTargets(job: Job, group: VipGroup, plumbed: readonly Plumbed[], targets: readonly NotifyHost[]): void {
    const started = performance.now();
    const byVip = new Map(plumbed.filter((vip) => vip.family === 4).map((vip) => [vip.ip, vip]));
    let next = 0;
    const tick = () => {
      const sliceStart = performance.now();
      const due = Math.floor(((sliceStart - started) / 1000) * this.arp.notifyRate) + 1;
      const end = Math.min(targets.length, due, next + this.maxTargetsPerTick);
      for (; next < end; next++) this.notifyOne(byVip, targets[next]!);
      this.counters.longestSliceMs = Math.max(this.counters.longestSliceMs, performance.now() - sliceStart);
      if (next < targets.length) job.after(this.tickMs, tick);
      else this.log.debug({ group: group.index, targets: targets.length, ms: Math.round(performance.now() - started) }, 'notify targets done');
    };
    tick();
  }

  private notifyOne(byVip: ReadonlyMap<string, Plumbed>, target: NotifyHost): void {
    const vip = byVip.get(target.vip);
    if (vip === undefined) {
      this.counters.targetsSkipped++;
      return;
    }
    this.counters.targetsNotified++;
    // Unknown MAC: a reply form frame to the broadcast MAC, addressed (target IP) to the host.
    const mac = target.mac ?? BROADCAST_MAC;
    if (this.send((f) => f.arpReply(vip.ifindex, vip.ip, target.ip, mac), vip)) {
      if (target.mac) this.counters.arpReplyUnicast++;
      else this.counters.arpReplyBroadcast++;
    }
  }

  private send(frame: (sender: FrameSender) => void, vip: VipAddress): boolean {
    if (!this.frames) return false;
    try {
      frame(this.frames);
      return true;
    } catch (err) {
      // Warn on the first failure so a broken setup shows; later ones go to the counter and debug.
      if (this.counters.sendErrors++ === 0) this.log.warn({ address: vip.ip, interface: vip.interface, err: describeError(err) }, 'sending an announcement frame failed');
      else this.log.debug({ address: vip.ip, interface: vip.interface, err: describeError(err) }, 'sending an announcement frame failed');
      return false;
    }
  }
}
