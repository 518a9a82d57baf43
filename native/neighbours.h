// Neighbour table (RTM_GETNEIGH), shared with events.cc.
#pragma once

#include <napi.h>

#include "links.h"
#include "netlink.h"

namespace vippy {

// { family, ip, mac, ifindex, interface, state } from one RTM_NEWNEIGH / RTM_DELNEIGH message,
// also pushed onto appendTo when given; an empty Object for entries nobody can be notified at:
// other families, multicast and NOARP entries, and (with completeOnly) incomplete or failed
// entries and ones without a MAC.
Napi::Object NeighbourToJs(Napi::Env env, const nlmsghdr* h, InterfaceNames& names, bool completeOnly,
                           napi_value appendTo = nullptr);

}  // namespace vippy
