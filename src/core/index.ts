// The protocol core: a pure, deterministic state machine (see node.ts for the API and its rules).
export { createNode, step, status, notifyTargets, arpCache } from './node.js';
export type { NodeState, NodeStatus, NodeMode, PeerView } from './node.js';
export type { NotifyHost } from './notify-targets.js';
export { place } from './placement.js';
export type * from './types.js';
