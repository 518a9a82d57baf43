// Interfaces: listInterfaces() over an RTM_GETLINK dump.
#include "links.h"

// net/if.h first: linux/if.h then adds only what glibc lacks (IFF_LOWER_UP).
#include <net/if.h>
#include <linux/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cstring>

#include "addon.h"

namespace vippy {

LinkInfo ParseLink(const nlmsghdr* h) {
  auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
  Attributes<ifinfomsg, IFLA_MAX> attrs(h);
  LinkInfo link;
  link.index = info->ifi_index;
  link.flags = info->ifi_flags;
  if (attrs[IFLA_IFNAME]) link.name = AttrString(attrs[IFLA_IFNAME]);
  if (attrs[IFLA_MTU]) link.mtu = AttrU32(attrs[IFLA_MTU]);
  if (auto* a = attrs[IFLA_ADDRESS]) {
    auto* bytes = static_cast<const unsigned char*>(AttrData(a));
    link.mac.assign(bytes, bytes + AttrLength(a));
  }
  return link;
}

std::vector<LinkInfo> DumpLinks(NetlinkSocket& socket) {
  NlMessage request(RTM_GETLINK, 0);
  request.AddHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  std::vector<char> dump = socket.Dump(request, SysError{0, "RTM_GETLINK"});
  std::vector<LinkInfo> links;
  ForEachMessage(dump.data(), dump.size(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWLINK) links.push_back(ParseLink(h));
  });
  return links;
}

Napi::Object LinkToJs(Napi::Env env, const LinkInfo& link) {
  return State(env).link.Make(env, {
      Napi::String::New(env, link.name), Napi::Number::New(env, link.index),
      MacValue(env, link.mac.data(), link.mac.size()), Napi::Number::New(env, link.mtu),
      Napi::Number::New(env, link.flags), Napi::Boolean::New(env, link.flags & IFF_UP),
      Napi::Boolean::New(env, link.flags & IFF_RUNNING), Napi::Boolean::New(env, link.flags & IFF_LOWER_UP)});
}

int InterfaceIndex(const std::string& name, const SysError& context) {
  // if_nametoindex opens and closes a socket per call, a third of an address change's cost;
  // one socket kept for the ioctl (in the process's namespace) does the same lookup.
  static const int ioctlSocket = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int index = 0;
  if (!name.empty() && name.size() < IF_NAMESIZE) {
    ifreq request{};
    std::memcpy(request.ifr_name, name.c_str(), name.size() + 1);
    if (ioctlSocket >= 0 && ioctl(ioctlSocket, SIOCGIFINDEX, &request) == 0) index = request.ifr_ifindex;
    if (ioctlSocket < 0) index = static_cast<int>(if_nametoindex(name.c_str()));
  }
  if (index == 0) {
    SysError error = context;
    error.code = ENODEV;
    throw error;
  }
  return index;
}

Napi::Value InterfaceNames::Get(int index) {
  auto found = names_.find(index);
  if (found != names_.end()) return found->second;
  char name[IF_NAMESIZE] = "";
  // An interface deleted meanwhile has no name any more: "" rather than a failure.
  if (!if_indextoname(static_cast<unsigned>(index), name)) name[0] = '\0';
  return names_.emplace(index, Napi::String::New(env_, name)).first->second;
}

static Napi::Value ListInterfaces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<LinkInfo> links = DumpLinks(RequestSocket(env));
  Napi::Array result = Napi::Array::New(env, links.size());
  for (size_t i = 0; i < links.size(); i++) result.Set(static_cast<uint32_t>(i), LinkToJs(env, links[i]));
  return result;
}

void InitLinks(Napi::Env env, Napi::Object exports) {
  State(env).link.Init(env, {"name", "index", "mac", "mtu", "flags", "up", "running", "lowerUp"});
  exports.Set("listInterfaces", Napi::Function::New<GuardedMethod<ListInterfaces>>(env, "listInterfaces"));
}

}  // namespace vippy
