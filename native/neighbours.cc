// Neighbours: listNeighbours() over an RTM_GETNEIGH dump, complete entries only.
#include "neighbours.h"

#include <linux/neighbour.h>

#include "addon.h"
#include "addresses.h"

namespace vippy {

namespace {

const char* StateName(uint16_t state) {
  // Several bits can be set; the most telling one wins.
  if (state & NUD_PERMANENT) return "permanent";
  if (state & NUD_NOARP) return "noarp";
  if (state & NUD_REACHABLE) return "reachable";
  if (state & NUD_STALE) return "stale";
  if (state & NUD_DELAY) return "delay";
  if (state & NUD_PROBE) return "probe";
  if (state & NUD_FAILED) return "failed";
  if (state & NUD_INCOMPLETE) return "incomplete";
  return "none";
}

Napi::Value ListNeighbours(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NlMessage request(RTM_GETNEIGH, 0);
  request.AddHeader<ndmsg>()->ndm_family =
      static_cast<unsigned char>(RequireFamily(env, info[0], "listNeighbours: family"));
  std::vector<char> dump = RequestSocket(env).Dump(request, SysError{0, "RTM_GETNEIGH"});
  InterfaceNames names(env);
  Napi::Array result = Napi::Array::New(env);
  ForEachMessage(dump.data(), dump.size(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWNEIGH) NeighbourToJs(env, h, names, true, result);
  });
  return result;
}

}  // namespace

Napi::Object NeighbourToJs(Napi::Env env, const nlmsghdr* h, InterfaceNames& names, bool completeOnly,
                           napi_value appendTo) {
  auto* nd = static_cast<const ndmsg*>(NLMSG_DATA(h));
  if (nd->ndm_family != AF_INET && nd->ndm_family != AF_INET6) return Napi::Object();
  Attributes<ndmsg, NDA_MAX> attrs(h);
  const rtattr* dst = attrs[NDA_DST];
  size_t ipLength = nd->ndm_family == AF_INET ? 4 : 16;
  if (!dst || AttrLength(dst) != ipLength) return Napi::Object();
  auto* ip = static_cast<const unsigned char*>(AttrData(dst));
  // Multicast and broadcast entries are NOARP in the kernel; which addresses count as hosts is
  // core's to say (src/core/ipv4-range.ts isIpv4Host), not repeated here.
  if (nd->ndm_state & NUD_NOARP) return Napi::Object();
  const rtattr* lladdr = attrs[NDA_LLADDR];
  if (completeOnly && (!lladdr || (nd->ndm_state & (NUD_INCOMPLETE | NUD_FAILED)) || nd->ndm_state == NUD_NONE)) {
    return Napi::Object();
  }
  return State(env).neighbour.Make(env, {
      Napi::Number::New(env, nd->ndm_family == AF_INET ? 4 : 6), IpValue(env, nd->ndm_family, ip),
      lladdr ? MacValue(env, static_cast<const unsigned char*>(AttrData(lladdr)), AttrLength(lladdr)) : AsciiValue(env, ""),
      Napi::Number::New(env, nd->ndm_ifindex), names.Get(nd->ndm_ifindex),
      AsciiValue(env, StateName(nd->ndm_state))},
      appendTo);
}

void InitNeighbours(Napi::Env env, Napi::Object exports) {
  State(env).neighbour.Init(env, {"family", "ip", "mac", "ifindex", "interface", "state"});
  exports.Set("listNeighbours", Napi::Function::New<GuardedMethod<ListNeighbours>>(env, "listNeighbours"));
}

}  // namespace vippy
