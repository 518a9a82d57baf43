// Network interfaces (RTM_GETLINK), shared with events.cc and frames.cc.
#pragma once

#include <napi.h>

#include <string>
#include <unordered_map>
#include <vector>

#include "netlink.h"

namespace vippy {

struct LinkInfo {
  int index = 0;
  std::string name;
  std::vector<unsigned char> mac;
  unsigned mtu = 0;
  unsigned flags = 0;
};

// Parses one RTM_NEWLINK / RTM_DELLINK message.
LinkInfo ParseLink(const nlmsghdr* h);
// Dumps every link; throws SysError.
std::vector<LinkInfo> DumpLinks(NetlinkSocket& socket);
// { name, index, mac, mtu, flags, up, running, lowerUp }
Napi::Object LinkToJs(Napi::Env env, const LinkInfo& link);

// if_nametoindex, failing with ENODEV as a SysError that names the request being made.
int InterfaceIndex(const std::string& name, const SysError& context);

// Interface names by index as JS strings, remembered for the duration of one dump or event
// batch (within one handle scope).
class InterfaceNames {
 public:
  explicit InterfaceNames(Napi::Env env) : env_(env) {}
  Napi::Value Get(int index);

 private:
  Napi::Env env_;
  std::unordered_map<int, Napi::Value> names_;
};

}  // namespace vippy
