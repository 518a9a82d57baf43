// Frames: gratuitous ARP (request and reply forms), unicast ARP replies and IPv6 unsolicited
// neighbour advertisements, sent through one AF_PACKET SOCK_DGRAM socket (the kernel writes
// the Ethernet header). Protocol 0 binds the socket to no ethertype, so nothing is ever queued
// for reading on it. The sender's MAC and interface name are remembered per interface index and
// forgotten when the kernel reports a change of that link (a new address after `ip link set
// address` or a bond failover, a link deleted): a netlink socket subscribed to link events is
// read, without waiting, before each frame.
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include <linux/rtnetlink.h>

#include "addon.h"
#include "links.h"

namespace vippy {

namespace {

using Mac = std::array<unsigned char, 6>;
constexpr Mac kBroadcast = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Mac kAllNodesMulticast = {0x33, 0x33, 0x00, 0x00, 0x00, 0x01};  // ff02::1

struct __attribute__((packed)) ArpPacket {
  uint16_t hardwareType, protocolType;
  uint8_t hardwareLength, protocolLength;
  uint16_t operation;
  uint8_t senderMac[6], senderIp[4], targetMac[6], targetIp[4];
};

struct __attribute__((packed)) NeighbourAdvertisement {
  // IPv6 header
  uint32_t versionClassFlow;
  uint16_t payloadLength;
  uint8_t nextHeader, hopLimit;
  uint8_t source[16], destination[16];
  // ICMPv6 (RFC 4861 §4.4)
  uint8_t type, code;
  uint16_t checksum;
  uint32_t flags;
  uint8_t target[16];
  // target link-layer address option
  uint8_t optionType, optionLength, optionMac[6];
};
constexpr size_t kIcmpLength = sizeof(NeighbourAdvertisement) - 40;

uint16_t Icmp6Checksum(const NeighbourAdvertisement& na) {
  uint32_t sum = 0;
  auto add = [&sum](const void* data, size_t length) {
    auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i + 1 < length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
    if (length & 1) sum += bytes[length - 1] << 8;
  };
  // Pseudo-header: source, destination, upper-layer length, next header.
  add(na.source, 16);
  add(na.destination, 16);
  sum += kIcmpLength + IPPROTO_ICMPV6;
  add(&na.type, kIcmpLength);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<uint16_t>(~sum));
}

Mac RequireMac(Napi::Env env, const Napi::Value& v, const std::string& what) {
  Mac mac{};
  std::string text = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  unsigned b[6];
  char rest;
  if (sscanf(text.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &rest) != 6 ||
      text.size() != 17) {
    ThrowTypeError(env, what + " must be a MAC address like \"aa:bb:cc:dd:ee:ff\"");
  }
  for (int i = 0; i < 6; i++) mac[i] = static_cast<unsigned char>(b[i]);
  return mac;
}

class FrameSender : public Napi::ObjectWrap<FrameSender> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FrameSender",
                       {InstanceMethod<&FrameSender::Garp>("garp"), InstanceMethod<&FrameSender::ArpReply>("arpReply"),
                        InstanceMethod<&FrameSender::UnsolicitedNa>("unsolicitedNa"),
                        InstanceMethod<&FrameSender::Close>("close")});
  }

  explicit FrameSender(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FrameSender>(info) {
    fd_ = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw ToJsError(info.Env(), SysError{errno, "socket(AF_PACKET)"});
    // Subscribed before the first lookup, so no change after a lookup can go unseen.
    try {
      linkEvents_.Open(RTMGRP_LINK);
    } catch (const SysError& e) {
      CloseSocket();  // a constructor that throws gets no destructor call
      throw ToJsError(info.Env(), e);
    }
  }

  ~FrameSender() override { CloseSocket(); }

 private:
  struct Link {
    std::string name;
    Mac mac;
  };

  Napi::Value Garp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int index = RequireInt(env, info[0], "garp: ifindex", 1, INT32_MAX);
    IpAddress ip = RequireIp(env, info[1], "garp: ip", AF_INET);
    std::string form = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
    if (form != "request" && form != "reply") ThrowTypeError(env, "garp: form must be \"request\" or \"reply\"");
    Guarded(env, [&] {
      const Link& link = OwnLink(env, index, ip);
      // Request: an ARP announcement (RFC 5227), SPA = TPA. Reply: Linux takes a reply as
      // gratuitous only when THA = SHA, so the target MAC is our own.
      SendArp(index, ip, link, form == "request" ? ARPOP_REQUEST : ARPOP_REPLY, ip.bytes,
              form == "request" ? kBroadcast : link.mac, kBroadcast);
    });
    return env.Undefined();
  }

  Napi::Value ArpReply(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int index = RequireInt(env, info[0], "arpReply: ifindex", 1, INT32_MAX);
    IpAddress ip = RequireIp(env, info[1], "arpReply: ip", AF_INET);
    IpAddress targetIp = RequireIp(env, info[2], "arpReply: targetIp", AF_INET);
    Mac targetMac = RequireMac(env, info[3], "arpReply: targetMac");
    Guarded(env, [&] {
      const Link& link = OwnLink(env, index, ip);
      SendArp(index, ip, link, ARPOP_REPLY, targetIp.bytes, targetMac, targetMac);
    });
    return env.Undefined();
  }

  Napi::Value UnsolicitedNa(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int index = RequireInt(env, info[0], "unsolicitedNa: ifindex", 1, INT32_MAX);
    IpAddress ip = RequireIp(env, info[1], "unsolicitedNa: ip", AF_INET6);
    Guarded(env, [&] {
      const Link& link = OwnLink(env, index, ip);
      NeighbourAdvertisement na{};
      na.versionClassFlow = htonl(6u << 28);
      na.payloadLength = htons(kIcmpLength);
      na.nextHeader = IPPROTO_ICMPV6;
      na.hopLimit = 255;  // RFC 4861: receivers drop neighbour discovery with any other value
      std::memcpy(na.source, ip.bytes, 16);
      inet_pton(AF_INET6, "ff02::1", na.destination);
      na.type = 136;               // neighbour advertisement
      na.flags = htonl(1u << 29);  // O (override); not S: nobody solicited it
      std::memcpy(na.target, ip.bytes, 16);
      na.optionType = 2;  // target link-layer address
      na.optionLength = 1;
      std::memcpy(na.optionMac, link.mac.data(), 6);
      na.checksum = Icmp6Checksum(na);
      Send(index, ip, link, ETH_P_IPV6, kAllNodesMulticast, &na, sizeof na);
    });
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseSocket();
    return info.Env().Undefined();
  }

  void CloseSocket() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    linkEvents_.Close();
    links_.clear();
  }

  // Drops the remembered links the kernel has reported a change of since the last frame.
  void ForgetChangedLinks() {
    if (!linkEvents_.isOpen()) return;
    for (;;) {
      ssize_t length = linkEvents_.Receive(MSG_DONTWAIT);
      if (length == -EAGAIN) return;
      if (length < 0) {
        // Events were lost (ENOBUFS after a burst of link changes): any link may have changed.
        links_.clear();
        if (length == -ENOBUFS || length == -EMSGSIZE) continue;
        return;
      }
      ForEachMessage(linkEvents_.data(), static_cast<size_t>(length), [&](const nlmsghdr* h) {
        if (h->nlmsg_type == RTM_NEWLINK || h->nlmsg_type == RTM_DELLINK) {
          links_.erase(static_cast<const ifinfomsg*>(NLMSG_DATA(h))->ifi_index);
        }
      });
    }
  }

  // The interface's name and MAC, looked up once per index and kept until the link changes: a
  // frame costs one sendto and one recv that finds nothing.
  const Link& OwnLink(Napi::Env env, int index, const IpAddress& ip) {
    ForgetChangedLinks();
    auto found = links_.find(index);
    if (found != links_.end()) return found->second;
    for (const LinkInfo& info : DumpLinks(RequestSocket(env))) {
      if (info.index != index) continue;
      if (info.mac.size() != 6) {
        throw SysError{EOPNOTSUPP, "RTM_GETLINK", info.name, FormatIp(ip.family, ip.bytes), -1, "",
                       "the interface has no Ethernet address"};
      }
      Link link{info.name, {}};
      std::memcpy(link.mac.data(), info.mac.data(), 6);
      return links_.emplace(index, link).first->second;
    }
    throw SysError{ENODEV, "RTM_GETLINK", "ifindex " + std::to_string(index), FormatIp(ip.family, ip.bytes)};
  }

  void SendArp(int index, const IpAddress& ip, const Link& link, uint16_t operation, const uint8_t* targetIp,
               const Mac& targetMac, const Mac& destination) {
    ArpPacket arp{};
    arp.hardwareType = htons(ARPHRD_ETHER);
    arp.protocolType = htons(ETH_P_IP);
    arp.hardwareLength = 6;
    arp.protocolLength = 4;
    arp.operation = htons(operation);
    std::memcpy(arp.senderMac, link.mac.data(), 6);
    std::memcpy(arp.senderIp, ip.bytes, 4);
    std::memcpy(arp.targetMac, targetMac.data(), 6);
    std::memcpy(arp.targetIp, targetIp, 4);
    Send(index, ip, link, ETH_P_ARP, destination, &arp, sizeof arp);
  }

  void Send(int index, const IpAddress& ip, const Link& link, uint16_t protocol, const Mac& destination,
            const void* frame, size_t length) {
    SysError failure{0, "sendto", link.name, FormatIp(ip.family, ip.bytes)};
    if (fd_ < 0) {
      failure.code = EBADF;
      failure.detail = "the frame sender is closed";
      throw failure;
    }
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_protocol = htons(protocol);
    to.sll_ifindex = index;
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, destination.data(), 6);
    while (sendto(fd_, frame, length, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) < 0) {
      if (errno == EINTR) continue;
      failure.code = errno;
      // The interface may have gone (or been replaced): look it up afresh next time.
      links_.erase(index);
      throw failure;
    }
  }

  int fd_ = -1;
  NetlinkSocket linkEvents_;
  std::unordered_map<int, Link> links_;
};

Napi::Value OpenFrameSender(const Napi::CallbackInfo& info) { return State(info.Env()).frameSenderClass.New({}); }

}  // namespace

void InitFrames(Napi::Env env, Napi::Object exports) {
  State(env).frameSenderClass = Napi::Persistent(FrameSender::Define(env));
  exports.Set("openFrameSender", Napi::Function::New<GuardedMethod<OpenFrameSender>>(env, "openFrameSender"));
}

}  // namespace vippy
