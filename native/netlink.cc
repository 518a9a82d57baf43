#include "netlink.h"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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

int64_t MonotonicMs() {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
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
    sockaddr_nl from{};
    socklen_t fromLength = sizeof from;
    ssize_t n = recvfrom(fd_, buffer_.data(), buffer_.size(), flags | MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                         &fromLength);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    if (static_cast<size_t>(n) > buffer_.size()) return -EMSGSIZE;
    if (from.nl_pid != 0) continue;  // not the kernel
    return n;
  }
}

void NetlinkSocket::Fail(const SysError& asked, int code, const std::string& detail) {
  // Whatever was in flight may still be answered (or a dump may still be running): a fresh
  // socket for the next request rather than replies that belong to this one.
  Close();
  SysError error = asked;
  error.code = code;
  error.detail = detail;
  throw error;
}

void NetlinkSocket::Send(NlMessage& message, uint16_t extraFlags, const SysError& asked) {
  if (fd_ < 0) Open(0);
  nlmsghdr* h = message.header();
  h->nlmsg_flags |= extraFlags;
  h->nlmsg_seq = ++sequence_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  for (;;) {
    if (sendto(fd_, h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) >= 0) return;
    if (errno != EINTR) Fail(asked, errno, "sendto failed");
  }
}

size_t NetlinkSocket::ReceiveReply(int64_t deadline, const SysError& asked) {
  for (;;) {
    ssize_t n = Receive(MSG_DONTWAIT);
    if (n >= 0) return static_cast<size_t>(n);
    if (n != -EAGAIN) Fail(asked, static_cast<int>(-n), "recv failed");
    // Polled with what is left, 0 once the deadline has passed: a reply already queued is still
    // taken, so a process that was not scheduled for a while does not time out on its own delay.
    pollfd readable{fd_, POLLIN, 0};
    int ready = poll(&readable, 1, static_cast<int>(std::max<int64_t>(0, deadline - MonotonicMs())));
    if (ready < 0 && errno != EINTR) Fail(asked, errno, "poll failed");
    if (ready == 0) {
      Fail(asked, ETIMEDOUT, "no reply from the kernel within " + std::to_string(kReplyDeadlineMs) +
                                 " ms; the request may have been carried out");
    }
  }
}

NlStatus NetlinkSocket::Request(NlMessage& message, const SysError& asked) {
  Send(message, NLM_F_ACK, asked);
  uint32_t sequence = message.header()->nlmsg_seq;
  int64_t deadline = MonotonicMs() + kReplyDeadlineMs;
  for (;;) {
    size_t n = ReceiveReply(deadline, asked);
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

std::vector<char> NetlinkSocket::Dump(NlMessage& message, const SysError& asked) {
  std::vector<char> messages;
  for (int attempt = 0; attempt < kDumpAttempts; attempt++) {
    Send(message, NLM_F_DUMP, asked);
    uint32_t sequence = message.header()->nlmsg_seq;
    // Each part of a dump gets the full deadline: the kernel queues the next one while the
    // previous is being read, so only a dump that stopped answering runs into it.
    messages.clear();
    bool done = false, interrupted = false;
    NlStatus status;
    while (!done) {
      size_t n = ReceiveReply(MonotonicMs() + kReplyDeadlineMs, asked);
      ForEachMessage(buffer_.data(), n, [&](const nlmsghdr* h) {
        if (done || h->nlmsg_seq != sequence) return;
        if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
        } else if (h->nlmsg_type == NLMSG_ERROR) {
          status = StatusOf(h);
          done = true;
        } else {
          auto* bytes = reinterpret_cast<const char*>(h);
          messages.insert(messages.end(), bytes, bytes + NLMSG_ALIGN(h->nlmsg_len));
        }
      });
    }
    if (status.error) {
      SysError error = asked;
      error.code = status.error;
      error.extack = status.extack;
      throw error;
    }
    if (!interrupted) return messages;
  }
  SysError error = asked;
  error.code = EINTR;
  error.detail = "the table changed during each of " + std::to_string(kDumpAttempts) + " dumps";
  throw error;
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
