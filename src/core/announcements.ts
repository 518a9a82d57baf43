// Announcements (DESIGN.md "Protocol"): what this node says, every interval and at once
// (rate-limited) when what it says changes. Signing and the replay guard are src/wire's; the
// agent must pass a sender's announcements in send order (drop one older than the last
// delivered, by the envelope's sequence number): the wire accepts reordered datagrams.

import type { Announcement } from './types.js';
import { sortedHeld, type NodeState, type StepOutput } from './state.js';
import type { Assessment } from './self-assessment.js';
import { hearsIndices } from './liveness.js';
import type { Wake } from './wake.js';

/** At most this many announcements per interval (periodic included): changes go out at once, storms do not. */
const TRIGGERED_BURST = 5;

export function announce(state: NodeState, self: Assessment, ownIneligible: number[], now: number, wake: Wake, out: StepOutput): void {
  const { config } = state;
  const { intervalMs } = config.timing;
  const announcement: Announcement = {
    node: state.self,
    version: config.version,
    fingerprint: config.fingerprint,
    active: self.active,
    inactiveReason: self.inactiveReason,
    leaving: false,
    held: sortedHeld(state),
    ineligible: ownIneligible,
    hears: hearsIndices(state, now),
  };
  const signature = JSON.stringify(announcement);
  while (state.recentSends.length > 0 && now - state.recentSends[0]! >= intervalMs) state.recentSends.shift();
  const due = now >= state.nextAnnounceAt;
  // A changed view is announced too, so that peers waiting to hear from everyone since their
  // own change (see taking.ts) hear from this node at once.
  const triggered = signature !== state.lastSentSignature || state.viewSentAt < state.viewSince;
  if (due || (triggered && state.recentSends.length < TRIGGERED_BURST)) {
    out.actions.push({ type: 'send', announcement });
    state.recentSends.push(now);
    state.lastSentSignature = signature;
    state.viewSentAt = now;
    if (due) state.nextAnnounceAt = Math.max(state.nextAnnounceAt + intervalMs, now + 1);
    wake.add(state.nextAnnounceAt);
  } else if (triggered) {
    wake.add(state.recentSends[0]! + intervalMs);
  }
}
