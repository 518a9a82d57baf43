// The chat transport: one UDP socket that carries signed announcements between the nodes, either
// to a multicast group (joined on one, several or every interface) or to every peer's address.
// It moves bytes only: authentication, replay and "is this my own datagram" belong to src/wire.

import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import type { ClusterConfig } from '../config/model.js';
import { describeError, type AgentLogger } from '../log/logger.js';

export type DatagramHandler = (buf: Buffer, rinfo: dgram.RemoteInfo) => void;

export interface ChatCounters {
  sent: number;
  bytesSent: number;
  sendErrors: number;
  received: number;
  bytesReceived: number;
  /** addMembership / setMulticastInterface calls that failed (retried on refresh()). */
  membershipErrors: number;
}

export interface Chat {
  readonly mode: 'multicast' | 'unicast';
  /** Send one datagram to the group or to every peer. Never throws: failures are counted and logged. */
  send(buf: Uint8Array): void;
  /** Re-resolve the chat interfaces and (re)join the group where needed (call on link/address events). */
  refresh(): void;
  /** Interfaces the group is currently joined on (multicast mode). */
  memberships(): ChatInterface[];
  readonly counters: Readonly<ChatCounters>;
  close(): Promise<void>;
}

export interface ChatInterface {
  name: string;
  /** Its first IPv4 address: what addMembership and setMulticastInterface take. */
  address: string;
}

type NicTable = NodeJS.Dict<os.NetworkInterfaceInfo[]>;

const IFF_MULTICAST = 0x1000;
/** Longest close() waits for queued sends. */
const CLOSE_DRAIN_MS = 200;

/** IFF_MULTICAST from sysfs; true when it cannot be read (let the kernel decide then). */
export function isMulticastCapable(name: string): boolean {
  try {
    return (Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8'), 16) & IFF_MULTICAST) !== 0;
  } catch {
    return true;
  }
}

/**
 * The interfaces to join the group on. `spec` is chat.interface: "all" (or empty) = every
 * non-loopback, multicast-capable interface with an IPv4 address; an IPv4 address = the interface
 * carrying it; anything else is a NIC name. An interface that is not there (yet) gives [].
 * os.networkInterfaces() lists only interfaces that are up and running.
 */
export function selectChatInterfaces(
  spec: string,
  nics: NicTable,
  multicastCapable: (name: string) => boolean = isMulticastCapable,
): ChatInterface[] {
  const firstIpv4 = (infos: os.NetworkInterfaceInfo[] | undefined) => infos?.find((i) => i.family === 'IPv4');
  if (spec === '' || spec === 'all') {
    const all: ChatInterface[] = [];
    for (const [name, infos] of Object.entries(nics)) {
      const v4 = firstIpv4(infos);
      if (v4 && !v4.internal && multicastCapable(name)) all.push({ name, address: v4.address });
    }
    return all;
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(spec)) {
    for (const [name, infos] of Object.entries(nics)) {
      if (infos?.some((i) => i.family === 'IPv4' && i.address === spec)) return [{ name, address: spec }];
    }
    return [];
  }
  const v4 = firstIpv4(nics[spec]);
  return v4 ? [{ name: spec, address: v4.address }] : [];
}

/** Bind the chat socket and join the group (multicast) or address the peers (unicast). */
export async function createChat(
  config: ClusterConfig,
  self: string,
  onDatagram: DatagramHandler,
  log: AgentLogger,
): Promise<Chat> {
  const chat = config.chat;
  const counters: ChatCounters = { sent: 0, bytesSent: 0, sendErrors: 0, received: 0, bytesReceived: 0, membershipErrors: 0 };
  const own = config.nodes.find((n) => n.name === self);
  const port = chat.mode === 'unicast' ? (own?.port ?? chat.port) : chat.port;

  let peers: { name: string; address: string; port: number }[] = [];
  let family: 'udp4' | 'udp6' = 'udp4';
  // A multicast chat address was checked when the config was loaded (src/config/addresses.ts).
  if (chat.mode === 'unicast') {
    peers = config.nodes
      .filter((n) => n.name !== self)
      .map((n) => {
        if (!n.address || !ipaddr.isValid(n.address)) {
          throw new Error(`chat: unicast mode needs an address for node "${n.name}" (config key nodes)`);
        }
        return { name: n.name, address: n.address, port: n.port ?? chat.port };
      });
    const families = new Set(peers.map((p) => ipaddr.parse(p.address).kind()));
    if (families.size > 1) throw new Error('chat: unicast node addresses mix IPv4 and IPv6 (config key nodes)');
    if (families.has('ipv6')) family = 'udp6';
  }

  // Every destination is an IP literal: answering the lookup at once lets send() reach the kernel
  // in the same tick (Node's default lookup defers it), which matters for the leaving message.
  const lookup = (address: string, _options: unknown, callback: (err: Error | null, address: string, family: number) => void) =>
    callback(null, address, family === 'udp4' ? 4 : 6);
  // A receive buffer of 1 MiB (the kernel caps it at net.core.rmem_max) instead of ~200 kB:
  // under a flood of junk, a daemon descheduled for tens of ms still finds its peers' datagrams
  // queued rather than dropped.
  const socket = dgram.createSocket({ type: family, reuseAddr: true, lookup: lookup as never, recvBufferSize: 1 << 20 });
  socket.on('message', (buf, rinfo) => {
    counters.received++;
    counters.bytesReceived += buf.length;
    try {
      onDatagram(buf, rinfo);
    } catch (err) {
      log.error({ err: describeError(err), from: rinfo.address }, 'chat: datagram handler threw');
    }
  });
  socket.on('error', (err) => log.error({ err: describeError(err) }, 'chat: socket error'));

  // Bind the wildcard address: a socket bound to a unicast address receives no multicast, and in
  // unicast mode the node's own address may come and go without taking the chat down with it.
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new Error(`chat: cannot bind UDP port ${port}: ${describeError(err)}`));
    socket.once('error', onError);
    socket.bind(port, family === 'udp4' ? '0.0.0.0' : '::', () => {
      socket.off('error', onError);
      resolve();
    });
  });

  let joined: ChatInterface[] = [];
  let warnedNoInterface = false;
  let sendInterface: string | undefined;
  let failing = false;

  // Sends complete asynchronously (the address goes through dns.lookup first): close() waits for
  // them, so a leaving announcement sent just before closing is not cancelled.
  let pending = 0;
  let drained: (() => void) | undefined;
  const afterSend = (err: Error | null, to: string, bytes: number) => {
    pending--;
    if (pending === 0) drained?.();
    if (err) {
      counters.sendErrors++;
      // One warning when sending starts failing, not one per interval.
      if (!failing) log.warn({ err: describeError(err), to }, 'chat: send failed');
      failing = true;
      return;
    }
    if (failing) log.info({ to }, 'chat: sending works again');
    failing = false;
    counters.sent++;
    counters.bytesSent += bytes;
  };
  const sendTo = (buf: Uint8Array, address: string, toPort: number) => {
    pending++;
    try {
      socket.send(buf, toPort, address, (err) => afterSend(err, address, buf.length));
    } catch (err) {
      afterSend(err as Error, address, buf.length);
    }
  };

  const refresh = () => {
    if (chat.mode !== 'multicast') return;
    const wanted = selectChatInterfaces(chat.interface, os.networkInterfaces());
    // Once per loss, not on every link/address event that follows.
    if (wanted.length === 0 && (joined.length > 0 || !warnedNoInterface)) {
      log.warn({ interface: chat.interface }, 'chat: no usable interface to join the group on yet');
    }
    warnedNoInterface = wanted.length === 0;
    for (const gone of joined.filter((j) => !wanted.some((w) => w.address === j.address))) {
      try {
        socket.dropMembership(chat.address, gone.address);
      } catch {
        // the interface vanished: the kernel dropped the membership with it
      }
    }
    // Join every wanted interface each time: EADDRINUSE means still a member, and an interface
    // that was deleted and re-created under the same address needs the join again.
    joined = wanted.filter((w) => {
      try {
        socket.addMembership(chat.address, w.address);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') return true;
        counters.membershipErrors++;
        log.warn({ err: describeError(err), interface: w.name, address: w.address }, 'chat: joining the group failed; retrying on the next refresh');
        return false;
      }
    });
    const egress = wanted[0]?.address;
    if (egress && egress !== sendInterface) {
      try {
        socket.setMulticastInterface(egress);
        sendInterface = egress;
      } catch (err) {
        counters.membershipErrors++;
        log.warn({ err: describeError(err), address: egress }, 'chat: setting the multicast send interface failed');
      }
    }
  };

  if (chat.mode === 'multicast') {
    socket.setMulticastTTL(chat.ttl);
    // Own datagrams come back and are recognised by the codec as 'own': proof the group works.
    socket.setMulticastLoopback(true);
    refresh();
    log.info({ group: `${chat.address}:${port}`, interfaces: joined.map((j) => j.name), ttl: chat.ttl }, 'chat: multicast ready');
  } else {
    log.info({ port, peers: peers.map((p) => `${p.name}@${p.address}:${p.port}`) }, 'chat: unicast ready');
  }

  return {
    mode: chat.mode,
    counters,
    send(buf) {
      if (chat.mode === 'multicast') sendTo(buf, chat.address, port);
      else for (const peer of peers) sendTo(buf, peer.address, peer.port);
    },
    refresh,
    memberships: () => [...joined],
    close: async () => {
      if (pending > 0) {
        await new Promise<void>((resolve) => {
          drained = resolve;
          setTimeout(resolve, CLOSE_DRAIN_MS).unref();
        });
      }
      return new Promise<void>((resolve) => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // already closed
        }
      });
    },
  };
}
