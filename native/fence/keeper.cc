// vippy-fence: the keeper that removes a dead or stopped vippyd's addresses (docs/architecture.md,
// "The fence"). vippyd starts it with one argument, the deadline in milliseconds, and talks to
// it over its stdin, one command a line:
//
//   + <interface> <address> <prefix length>   an address vippyd is about to plumb
//   - <interface> <address> <prefix length>   an address vippyd released
//   . <milliseconds>                          a pet: vippyd's event loop runs; it sent an
//                                             announcement at that CLOCK_MONOTONIC time
//   d <milliseconds>                          a new deadline (vippyd reloaded its config)
//   l                                         linger: at end of file, wait out the deadline
//                                             first (a stop that leaves the addresses in place)
//
// The keeper deletes every address it holds the moment its stdin reaches end of file (vippyd
// exited, SIGKILL included: the kernel closes the pipe) and whenever no pet came for the
// deadline (SIGSTOP, a hung event loop). It reports on stdout, one line each:
//
//   ready <realtime 0|1>
//   fenced <addresses deleted> <ms since the last pet> <errors>
//   error <text>
//
// After a missed deadline it keeps its list and keeps running: vippyd, once it runs again,
// either releases the addresses (core does after a pause longer than stale) or plumbs them
// again, and the next silence fences again. A separate process, not a thread or a fork of
// vippyd: a frozen or killed vippyd takes every thread with it, and a fork of a Node process
// would keep its whole heap (tens of MiB, copied page by page as Node writes).
//
// Plain libc, no allocation after start-up beyond the address table. Linux only.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

namespace {

struct Held {
  unsigned ifindex;
  char ifname[IF_NAMESIZE];
  unsigned char family;
  unsigned char prefix;
  unsigned char bytes[16];
};

Held* held = nullptr;
size_t heldCount = 0, heldCapacity = 0;
int rtnl = -1;
volatile sig_atomic_t parentGone = 0;

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void Report(const char* line) {
  // vippyd may be gone: a failed write (EPIPE, SIGPIPE ignored) is not the keeper's problem.
  size_t length = strlen(line);
  while (length > 0) {
    ssize_t n = write(STDOUT_FILENO, line, length);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    line += n;
    length -= static_cast<size_t>(n);
  }
}

bool SameAddress(const Held& a, const Held& b) {
  return a.family == b.family && a.prefix == b.prefix && memcmp(a.bytes, b.bytes, 16) == 0 &&
         strncmp(a.ifname, b.ifname, IF_NAMESIZE) == 0;
}

// "<interface> <address> <prefix>" -> Held; false when malformed.
bool Parse(char* text, Held& out) {
  memset(&out, 0, sizeof out);
  char* save = nullptr;
  char* ifname = strtok_r(text, " ", &save);
  char* address = strtok_r(nullptr, " ", &save);
  char* prefix = strtok_r(nullptr, " ", &save);
  if (!ifname || !address || !prefix || strlen(ifname) >= IF_NAMESIZE) return false;
  strncpy(out.ifname, ifname, IF_NAMESIZE - 1);
  if (inet_pton(AF_INET, address, out.bytes) == 1) out.family = AF_INET;
  else if (inet_pton(AF_INET6, address, out.bytes) == 1) out.family = AF_INET6;
  else return false;
  char* end = nullptr;
  long length = strtol(prefix, &end, 10);
  if (*end != '\0' || length < 0 || length > (out.family == AF_INET ? 32 : 128)) return false;
  out.prefix = static_cast<unsigned char>(length);
  return true;
}

void Hold(const Held& address) {
  for (size_t i = 0; i < heldCount; i++) {
    if (SameAddress(held[i], address)) {
      held[i].ifindex = address.ifindex;
      return;
    }
  }
  if (heldCount == heldCapacity) {
    size_t capacity = heldCapacity ? heldCapacity * 2 : 64;
    auto* grown = static_cast<Held*>(realloc(held, capacity * sizeof(Held)));
    if (!grown) {
      Report("error out of memory: an address is not fenced (its lease still is)\n");
      return;
    }
    held = grown;
    heldCapacity = capacity;
  }
  held[heldCount++] = address;
}

void Drop(const Held& address) {
  for (size_t i = 0; i < heldCount; i++) {
    if (SameAddress(held[i], address)) {
      held[i] = held[--heldCount];
      return;
    }
  }
}

// One RTM_DELADDR per held address, without waiting for ACKs (the kernel answers only failures);
// returns how many failed other than "already gone". Returns fast: one syscall per address.
int DeleteAll(size_t* sent) {
  struct {
    nlmsghdr header;
    ifaddrmsg ifa;
    char attributes[2 * RTA_SPACE(16)];
  } request;
  *sent = 0;
  uint32_t sequence = 0;
  for (size_t i = 0; i < heldCount; i++) {
    const Held& a = held[i];
    memset(&request, 0, sizeof request);
    int length = a.family == AF_INET ? 4 : 16;
    request.header.nlmsg_type = RTM_DELADDR;
    request.header.nlmsg_flags = NLM_F_REQUEST;
    request.header.nlmsg_seq = ++sequence;
    request.ifa.ifa_family = a.family;
    request.ifa.ifa_prefixlen = a.prefix;
    request.ifa.ifa_index = a.ifindex;
    char* at = request.attributes;
    const unsigned short types[] = {IFA_LOCAL, IFA_ADDRESS};
    for (unsigned short type : types) {
      auto* attribute = reinterpret_cast<rtattr*>(at);
      attribute->rta_type = type;
      attribute->rta_len = static_cast<unsigned short>(RTA_LENGTH(length));
      memcpy(RTA_DATA(attribute), a.bytes, length);
      at += RTA_SPACE(length);
    }
    request.header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(sizeof(ifaddrmsg)) + (at - request.attributes));
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (sendto(rtnl, &request, request.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) > 0) {
      ++*sent;
    }
  }
  // rtnetlink handles a request inside sendto: its error, if any, is queued by now.
  int errors = static_cast<int>(heldCount - *sent);
  char buffer[8192];
  for (;;) {
    ssize_t n = recv(rtnl, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    int remaining = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      int error = -static_cast<nlmsgerr*>(NLMSG_DATA(h))->error;
      if (error != 0 && error != EADDRNOTAVAIL && error != ENODEV) errors++;
    }
  }
  return errors;
}

void Fence(int64_t silentMs) {
  size_t sent = 0;
  int errors = DeleteAll(&sent);
  char line[96];
  snprintf(line, sizeof line, "fenced %zu %lld %d\n", sent, static_cast<long long>(silentMs), errors);
  Report(line);
}

void OnParentDeath(int) { parentGone = 1; }

// Wakes in time on a loaded host where allowed (systemd's RestrictRealtime= or no CAP_SYS_NICE:
// a normal process). The loop sleeps in poll() between pets, so it costs no CPU either way.
bool TryRealtime() {
  sched_param param{};
  param.sched_priority = 1;
  return sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &param) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  char* end = nullptr;
  long deadline = argc == 3 ? strtol(argv[1], &end, 10) : 0;
  pid_t parent = argc == 3 ? static_cast<pid_t>(strtol(argv[2], nullptr, 10)) : 0;
  if (argc != 3 || *end != '\0' || deadline < 1 || parent < 1) {
    fprintf(stderr, "usage: vippy-fence <deadline-ms> <vippyd pid>  (started by vippyd, commands on stdin)\n");
    return 2;
  }
  // Only vippyd's pipe and stdout matter; a terminal's or the service manager's signals must not
  // end the keeper before vippyd's stdin end closes (systemd signals the whole cgroup on stop).
  // Started as /proc/self/fd/<n>: without this, ps and top would call it "<n>".
  prctl(PR_SET_NAME, "vippy-fence");
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  // A belt with the pipe's end of file: the kernel tells us when vippyd is gone.
  struct sigaction death{};
  death.sa_handler = OnParentDeath;
  sigaction(SIGUSR1, &death, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGUSR1);
  if (getppid() != parent) parentGone = 1;

  rtnl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (rtnl < 0) {
    char line[128];
    snprintf(line, sizeof line, "error socket(NETLINK_ROUTE): %s\n", strerror(errno));
    Report(line);
    return 1;
  }
  char ready[32];
  snprintf(ready, sizeof ready, "ready %d\n", TryRealtime() ? 1 : 0);
  Report(ready);

  char input[4096];
  size_t used = 0;
  int64_t lastPet = -1;  // armed by the first pet: nothing to guard before vippyd runs its loop
  bool fenced = false;
  bool linger = false;
  for (;;) {
    if (parentGone) break;
    int timeout = -1;
    if (lastPet >= 0 && !fenced) {
      int64_t left = lastPet + deadline - NowMs();
      timeout = left > 0 ? static_cast<int>(left) : 0;
    }
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    int ready = poll(&fd, 1, timeout);
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (ready == 0) {
      if (heldCount > 0) Fence(NowMs() - lastPet);
      fenced = true;
      continue;
    }
    ssize_t n = read(STDIN_FILENO, input + used, sizeof input - 1 - used);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) break;  // end of file: vippyd is gone
    used += static_cast<size_t>(n);
    char* line = input;
    for (char* newline; (newline = static_cast<char*>(memchr(line, '\n', used - (line - input)))) != nullptr; line = newline + 1) {
      *newline = '\0';
      if (line[0] == '.') {
        // Counted from the announcement, not from this read: a late read must not move the fence
        // past the peers' takeover. A time from another clock (or none) counts as now.
        int64_t now = NowMs(), sent = line[1] == ' ' ? strtoll(line + 2, nullptr, 10) : now;
        lastPet = sent <= now && sent > now - 1000 ? sent : now;
        fenced = false;
      } else if (line[0] == 'l' && line[1] == '\0') {
        linger = true;
      } else if (line[0] == 'd' && line[1] == ' ') {
        long ms = strtol(line + 2, &end, 10);
        if (*end != '\0' || ms < 1) Report("error malformed deadline\n");
        else deadline = ms;
      } else if ((line[0] == '+' || line[0] == '-') && line[1] == ' ') {
        Held address;
        if (!Parse(line + 2, address)) {
          Report("error malformed command\n");
          continue;
        }
        if (line[0] == '-') {
          Drop(address);
          continue;
        }
        // Resolved now: at fence time every microsecond counts.
        address.ifindex = if_nametoindex(address.ifname);
        if (address.ifindex == 0) continue;  // no such interface: nothing to plumb, nothing to fence
        Hold(address);
      } else if (line[0] != '\0') {
        Report("error unknown command\n");
      }
    }
    used -= static_cast<size_t>(line - input);
    memmove(input, line, used);
    if (used == sizeof input - 1) used = 0;  // a line longer than any command: drop it
  }
  if (linger && lastPet >= 0) {
    for (int64_t left; (left = lastPet + deadline - NowMs()) > 0;) poll(nullptr, 0, static_cast<int>(left));
  }
  if (heldCount > 0) Fence(lastPet >= 0 ? NowMs() - lastPet : 0);
  return 0;
}
