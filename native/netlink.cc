#include "netlink.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vippy {

namespace {

// The kernel sizes dump replies to the reader's buffer, up to 32 KiB; one page more leaves room.
constexpr size_t kReceiveBufferSize = 36 * 1024;
// A table that keeps changing under a dump is retried this often before giving up with EINTR.
constexpr int kDumpAttempts = 8;

// The extended-ACK message of an NLMSG_ERROR, if it carries one.
std::string ExtackOf(const nlmsghdr* h) {
  if (!(h->nlmsg_flags & NLM_F_ACK_TLVS)) return "";
  auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  // With NETLINK_CAP_ACK the echoed request is only its header (NLM_F_CAPPED).
  size_t echoed = (h->nlmsg_flags & NLM_F_CAPPED) ? 0 : err->msg.nlmsg_len - NLMSG_HDRLEN;
  size_t offset = NLMSG_HDRLEN + sizeof(nlmsgerr) + NLMSG_ALIGN(echoed);
  if (offset >= h->nlmsg_len) return "";
  const rtattr* table[NLMSGERR_ATTR_MAX + 1] = {};
  ParseAttributes(table, NLMSGERR_ATTR_MAX, reinterpret_cast<const rtattr*>(reinterpret_cast<const char*>(h) + offset),
                  static_cast<int>(h->nlmsg_len - offset));
  return table[NLMSGERR_ATTR_MSG] ? AttrString(table[NLMSGERR_ATTR_MSG]) : "";
}

NlStatus StatusOf(const nlmsghdr* h) {
  auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
  return NlStatus{-err->error, ExtackOf(h)};
}

}  // namespace

NlMessage::NlMessage(uint16_t type, uint16_t flags) {
  std::memset(buffer_, 0, sizeof buffer_);
  header()->nlmsg_len = NLMSG_HDRLEN;
  header()->nlmsg_type = type;
  header()->nlmsg_flags = NLM_F_REQUEST | flags;
}

void* NlMessage::Reserve(size_t length) {
  size_t offset = NLMSG_ALIGN(header()->nlmsg_len);
  if (offset + NLMSG_ALIGN(length) > sizeof buffer_) throw SysError{EMSGSIZE, "netlink request"};
  header()->nlmsg_len = static_cast<uint32_t>(offset + length);
  return buffer_ + offset;
}

void NlMessage::Put(uint16_t type, const void* data, size_t length) {
  auto* attribute = static_cast<rtattr*>(Reserve(RTA_LENGTH(length)));
  attribute->rta_type = type;
  attribute->rta_len = static_cast<unsigned short>(RTA_LENGTH(length));
  std::memcpy(RTA_DATA(attribute), data, length);
}

NetlinkSocket::~NetlinkSocket() { Close(); }

void NetlinkSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void NetlinkSocket::Open(uint32_t groups, int receiveBuffer) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw SysError{errno, "socket"};
  int one = 1;
  // Best effort: kernels without them still work, only with terser errors.
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  if (receiveBuffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, sizeof receiveBuffer);
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = groups;
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) < 0) {
    int error = errno;
    close(fd);
    throw SysError{error, "bind"};
  }
  Close();
  fd_ = fd;
  buffer_.resize(kReceiveBufferSize);
}

ssize_t NetlinkSocket::Receive(int flags) {
  for (;;) {
    ssize_t n = recv(fd_, buffer_.data(), buffer_.size(), flags | MSG_TRUNC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (static_cast<size_t>(n) > buffer_.size()) return -EMSGSIZE;
    return n;
  }
}

void NetlinkSocket::Send(NlMessage& message, uint16_t extraFlags) {
  if (fd_ < 0) Open(0);
  nlmsghdr* h = message.header();
  h->nlmsg_flags |= extraFlags;
  h->nlmsg_seq = ++sequence_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    if (sendto(fd_, h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) return;
    if (errno != EINTR) throw SysError{errno, "sendto"};
  }
}

NlStatus NetlinkSocket::Request(NlMessage& message) {
  Send(message, NLM_F_ACK);
  uint32_t sequence = message.header()->nlmsg_seq;
  for (;;) {
    ssize_t n = Receive(0);
    if (n < 0) throw SysError{static_cast<int>(-n), "recv"};
    bool done = false;
    NlStatus status;
    ForEachMessage(buffer_.data(), n, [&](const nlmsghdr* h) {
      // Replies to an earlier, abandoned request are skipped by their sequence number.
      if (h->nlmsg_seq != sequence || h->nlmsg_type != NLMSG_ERROR) return;
      status = StatusOf(h);
      done = true;
    });
    if (done) return status;
  }
}

NlDump NetlinkSocket::Dump(NlMessage& message) {
  NlDump result;
  for (int attempt = 0; attempt < kDumpAttempts; attempt++) {
    Send(message, NLM_F_DUMP);
    uint32_t sequence = message.header()->nlmsg_seq;
    result.messages.clear();
    bool done = false, interrupted = false;
    while (!done) {
      ssize_t n = Receive(0);
      if (n < 0) throw SysError{static_cast<int>(-n), "recv"};
      ForEachMessage(buffer_.data(), n, [&](const nlmsghdr* h) {
        if (done || h->nlmsg_seq != sequence) return;
        if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
        } else if (h->nlmsg_type == NLMSG_ERROR) {
          result.status = StatusOf(h);
          done = true;
        } else {
          auto* bytes = reinterpret_cast<const char*>(h);
          result.messages.insert(result.messages.end(), bytes, bytes + NLMSG_ALIGN(h->nlmsg_len));
        }
      });
    }
    if (!interrupted || result.status.error) return result;
  }
  result.status = NlStatus{EINTR, "the table kept changing during the dump"};
  return result;
}

void ParseAttributes(const rtattr** table, int maxType, const rtattr* first, int length) {
  for (auto* a = first; RTA_OK(a, length); a = RTA_NEXT(a, length)) {
    int type = a->rta_type & NLA_TYPE_MASK;
    if (type <= maxType) table[type] = a;
  }
}

std::string AttrString(const rtattr* a) {
  auto* text = static_cast<const char*>(RTA_DATA(a));
  return std::string(text, strnlen(text, RTA_PAYLOAD(a)));
}

uint32_t AttrU32(const rtattr* a) {
  uint32_t value = 0;
  std::memcpy(&value, RTA_DATA(a), RTA_PAYLOAD(a) < sizeof value ? RTA_PAYLOAD(a) : sizeof value);
  return value;
}

}  // namespace vippy
