// Loads the native addon (native/*.cc) and gives it its type (./types.ts). pkg-prebuilds picks
// build/Release/vippy.node when a source build exists, else the prebuilt binary under
// prebuilds/vippy-<platform>-<arch>/.
//
// Conventions of the addon worth knowing:
// - errors are NativeErrors; `errno` follows Node's convention for system errors (negative:
//   util.getSystemErrorName(e.errno) gives `code`); the message reads like
//   "RTM_NEWADDR 192.0.2.10/32 on eth9: ENODEV (No such device)", with the kernel's extended-ACK
//   text appended when there is one;
// - bad arguments (not an IP address, prefix out of range, missing field) are TypeErrors that
//   name the method and field, and change nothing;
// - deleteAddress / ensureNoAddress match address and prefix length;
// - an address added with lifetimeSeconds is deleted by the kernel itself ~[N, N+1) s after its
//   last add/renewal (IPv4's check_lifetime runs at most once a second); ensureAddress with the
//   lifetime renews it;
// - watch() delivers neighbour events in every state (incomplete and failed too, mac "" when the
//   kernel gives none), but never NOARP entries (multicast and broadcast ones are NOARP);
// - no call waits for the kernel without a deadline: a request or dump that gets no reply within
//   1 s (kReplyDeadlineMs in native/netlink.h) fails with ETIMEDOUT, syscall naming the request
//   ("RTM_NEWADDR"), and the message saying the request may have been carried out; the request
//   socket is then replaced, so a late reply cannot answer a later request;
// - a FrameSender remembers each interface's name and MAC after its first frame and forgets them
//   when the kernel reports a change of that link (new MAC, link deleted) or a send fails;
// - a watcher reports events the kernel dropped as an `overrun` and goes on; any other failure
//   stops it, reported as a last `failed` event.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeApi, NativeError } from './types.js';

export type * from './types.js';

/** The package root: the nearest directory above this file holding binding-options.cjs. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'binding-options.cjs'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`vippy: no binding-options.cjs above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

const root = packageRoot();
const require = createRequire(import.meta.url);

export const native: NativeApi = require('pkg-prebuilds')(root, require(join(root, 'binding-options.cjs')));

export function isNativeError(e: unknown): e is NativeError {
  return (
    e instanceof Error &&
    typeof (e as NativeError).code === 'string' &&
    typeof (e as NativeError).errno === 'number' &&
    typeof (e as NativeError).syscall === 'string'
  );
}
