// Hand-rolled rtnetlink: a socket with extended ACKs, a request/ACK loop, a dump loop that
// retries when the kernel flags the dump as interrupted, and attribute helpers. No N-API here.
// Every wait for the kernel has a deadline (kReplyDeadlineMs): an unanswered request fails with
// ETIMEDOUT instead of holding the caller (the main thread) forever.
#pragma once

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace vippy {

// How long a request or dump waits for the kernel's next reply. The kernel handles rtnetlink
// requests inside sendto() and queues each dump part inside the recv() before it, so a reply
// that is not there at once is not coming: the deadline only has to outlast scheduling delays.
constexpr int kReplyDeadlineMs = 1000;

// A failed system call or netlink request. Plain C++ so that this layer stays free of N-API;
// Guarded() (addon.h) turns it into a JS Error carrying code, errno, syscall, interface,
// address and extack.
struct SysError {
  SysError() = default;
  SysError(int code, std::string syscall, std::string iface = "", std::string address = "", int prefixLength = -1,
           std::string extack = "", std::string detail = "")
      : code(code), syscall(std::move(syscall)), iface(std::move(iface)), address(std::move(address)),
        prefixLength(prefixLength), extack(std::move(extack)), detail(std::move(detail)) {}

  int code = 0;            // positive errno
  std::string syscall;     // "RTM_NEWADDR", "sendto", ...
  std::string iface;       // "" when not about one interface
  std::string address;     // "" when not about one address
  int prefixLength = -1;   // shown as address/prefix in the message when >= 0
  std::string extack;      // the kernel's extended-ACK message
  std::string detail;      // the addon's own explanation (which socket call failed, ...), message only
};

// One request message under construction: nlmsghdr + a fixed family header + attributes.
class NlMessage {
 public:
  NlMessage(uint16_t type, uint16_t flags);
  // Appends the zeroed family header (ifaddrmsg, ndmsg, ...); call once, right after construction.
  template <typename T>
  T* AddHeader() {
    return static_cast<T*>(Reserve(sizeof(T)));
  }
  void Put(uint16_t type, const void* data, size_t length);
  void PutU32(uint16_t type, uint32_t value) { Put(type, &value, sizeof value); }
  void PutString(uint16_t type, const std::string& value) { Put(type, value.c_str(), value.size() + 1); }
  nlmsghdr* header() { return reinterpret_cast<nlmsghdr*>(buffer_); }

 private:
  void* Reserve(size_t length);
  alignas(nlmsghdr) char buffer_[512];
};

// The result of a request or dump: 0 or a positive errno, plus the kernel's extack text.
struct NlStatus {
  int error = 0;
  std::string extack;
};

class NetlinkSocket {
 public:
  NetlinkSocket() = default;
  NetlinkSocket(const NetlinkSocket&) = delete;
  NetlinkSocket& operator=(const NetlinkSocket&) = delete;
  ~NetlinkSocket();

  // socket(NETLINK_ROUTE) + extended/capped ACKs + bind to `groups` (RTMGRP_* bits, 0 for none).
  // Throws SysError.
  void Open(uint32_t groups, int receiveBuffer = 0);
  bool isOpen() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void Close();

  // Sends with NLM_F_ACK and waits for the matching ACK; returns the kernel's answer (0 or its
  // errno and extack). A failed send or receive, or no ACK within kReplyDeadlineMs, throws
  // `asked` (what the request was, for the message) with code and detail set, and closes the
  // socket so that a late reply cannot be taken for the next request's; the next request opens
  // a fresh one.
  NlStatus Request(NlMessage& message, const SysError& asked);
  // Sends with NLM_F_DUMP and collects the replies, redoing the dump when the kernel sets
  // NLM_F_DUMP_INTR (the table changed under it), at most kDumpAttempts times. Every failure
  // throws `asked`: the kernel's NACK (with its extack), the table changing on every attempt
  // (EINTR), and the socket failures and deadline of Request.
  std::vector<char> Dump(NlMessage& message, const SysError& asked);

  // One recv into the internal buffer; returns the length, or -errno (EAGAIN, ENOBUFS, ...).
  // Datagrams from anyone but the kernel (a privileged process may unicast to our port id) are
  // skipped.
  ssize_t Receive(int flags);
  const char* data() const { return buffer_.data(); }

 private:
  void Send(NlMessage& message, uint16_t extraFlags, const SysError& asked);
  // Receive() for a request or dump: waits at most until `deadline` (CLOCK_MONOTONIC, ms).
  size_t ReceiveReply(int64_t deadline, const SysError& asked);
  [[noreturn]] void Fail(const SysError& asked, int code, const std::string& detail);
  int fd_ = -1;
  uint32_t sequence_ = 0;
  std::vector<char> buffer_;
};

// Calls visit(header) for each message in [data, data+length).
template <typename Visit>
void ForEachMessage(const char* data, size_t length, Visit&& visit) {
  int remaining = static_cast<int>(length);
  for (auto* h = reinterpret_cast<const nlmsghdr*>(data); NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
    visit(h);
  }
}

// Fills table[type] with each attribute in the block (types above maxType are ignored).
void ParseAttributes(const rtattr** table, int maxType, const rtattr* first, int length);

// Parses the attributes that follow a fixed family header T in a message.
template <typename T, int MaxType>
struct Attributes {
  const rtattr* table[MaxType + 1] = {};
  explicit Attributes(const nlmsghdr* h) {
    auto* first = reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(NLMSG_DATA(h)) + NLMSG_ALIGN(sizeof(T)));
    ParseAttributes(table, MaxType, first, static_cast<int>(h->nlmsg_len) - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(T))));
  }
  const rtattr* operator[](int type) const { return type <= MaxType ? table[type] : nullptr; }
};

inline const void* AttrData(const rtattr* a) { return RTA_DATA(a); }
inline size_t AttrLength(const rtattr* a) { return RTA_PAYLOAD(a); }
std::string AttrString(const rtattr* a);
uint32_t AttrU32(const rtattr* a);

}  // namespace vippy
