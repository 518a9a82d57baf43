// Interface addresses (RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR), shared with events.cc.
#pragma once

#include <napi.h>

#include "links.h"
#include "netlink.h"

namespace vippy {

// { family, address, prefixLength, ifindex, interface, label?, broadcast?, flags, tentative,
// nodad, secondary } from one RTM_NEWADDR / RTM_DELADDR message, also pushed onto appendTo
// when given; an empty Object for families other than IPv4 and IPv6.
Napi::Object AddressToJs(Napi::Env env, const nlmsghdr* h, InterfaceNames& names, napi_value appendTo = nullptr);

// Reads an optional family argument (undefined, 4 or 6) into AF_UNSPEC / AF_INET / AF_INET6.
int RequireFamily(Napi::Env env, const Napi::Value& v, const std::string& what);

}  // namespace vippy
