// Self-assessment: liveness and quorum combined into what this node does with its groups
// right now (its mode), and the log lines when any of it changes.

import type { MembershipView } from './membership.js';
import type { LastEvaluation, NodeState, StepOutput } from './state.js';
import type { Ownership } from './types.js';
import { assessLiveness, countedActiveNodes, type SelfLiveness } from './liveness.js';
import { assessQuorum, type QuorumAssessment } from './quorum.js';
import type { Wake } from './wake.js';

/** What the node does with its groups right now, and why. */
export type NodeMode =
  /** Acting on placement: takes and releases. */
  | 'acting'
  /** Not mature yet (or resuming after a pause): keeps what it holds, takes nothing. */
  | 'booting'
  /** No quorum, policy freeze: keeps what it holds, takes nothing. */
  | 'frozen'
  /** Quorum of nodes seen but not of active ones (peers booting or unhealthy): keeps what it holds, takes nothing. */
  | 'waiting'
  /** No quorum, policy stop: holds nothing. */
  | 'no-quorum'
  /** Peers' hears lists show that fewer than quorum nodes hear it: holds nothing. */
  | 'unheard'
  /** A health reason is false: holds nothing. */
  | 'inactive'
  /** Its name is not in config.nodes: holds nothing. */
  | 'not-in-config'
  | 'stopped';

export interface Assessment extends SelfLiveness, QuorumAssessment {
  mode: NodeMode;
  /** The nodes placement counts as active (config order). */
  activeNodes: string[];
}

export function assessSelf(state: NodeState, view: MembershipView, now: number, wake: Wake): Assessment {
  const { config } = state;
  const liveness = assessLiveness(state, now, wake);
  const activeNodes = countedActiveNodes(state, view, liveness.active, now);
  const quorum = assessQuorum(state, view, liveness.active, now, wake);
  const { inConfig, mature, resuming, failingReason } = liveness;
  const { quorumOk, activeQuorumOk, unheard } = quorum;
  const mode: NodeMode =
    !inConfig ? 'not-in-config'
      : unheard ? 'unheard'
        : failingReason !== undefined ? 'inactive'
          : !quorumOk && config.noQuorumPolicy === 'stop' ? 'no-quorum'
            : !mature || resuming ? 'booting'
              : !quorumOk && config.noQuorumPolicy === 'freeze' ? 'frozen'
                : !activeQuorumOk ? 'waiting'
                  : 'acting';
  return { ...liveness, ...quorum, mode, activeNodes };
}

/** Logs what changed since the last evaluation (maturity, activity, quorum, being heard). */
export function logTransitions(state: NodeState, current: Assessment, view: MembershipView, out: StepOutput): void {
  const before = state.last;
  const { quorum } = state.config;
  if (current.mature && !before.mature) out.log('info', 'mature', 'config is mature');
  if (current.active !== before.active) {
    if (current.active) out.log('notice', 'active', 'node is active');
    else out.log('warning', 'inactive', `node is inactive: ${current.inactiveReason}`, { reason: current.inactiveReason });
  }
  if (quorum > 1 && current.quorumOk !== before.quorum.ok) {
    if (current.quorumOk) out.log('notice', 'quorum-regained', `quorum reached (${view.seen} of ${quorum} seen)`);
    else out.log('warning', 'quorum-lost', `quorum lost (${view.seen} of ${quorum} seen), policy ${state.config.noQuorumPolicy}`);
  }
  if (current.mode !== before.mode && current.mode === 'unheard') {
    out.log('crit', 'one-way-failure', `fewer than ${quorum} nodes hear this node: releasing everything`);
  }
}

/** What status() reports and the next evaluation compares against. */
export function lastEvaluation(state: NodeState, current: Assessment, view: MembershipView, ownership: Ownership): LastEvaluation {
  const { mode, mature, active, inactiveReason } = current;
  const quorum = { needed: state.config.quorum, seen: view.seen, active: current.activeSeen, ok: current.quorumOk, heardBy: view.heardBy };
  return { mode, mature, active, inactiveReason, ownership, view, quorum };
}
