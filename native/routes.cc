// Routed announcing: the dummy interface vippy owns (RTM_NEWLINK with IFLA_LINKINFO kind
// "dummy", brought up) and host routes in a kernel table under vippy's own protocol number
// (RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE), which a routing daemon on the host exports.
#include <linux/if.h>
#include <linux/if_link.h>

#include <cmath>
#include <cstring>

#include "addon.h"
#include "links.h"

namespace vippy {

namespace {

// RTM_GETLINK for one name: the link's kind from IFLA_LINKINFO/IFLA_INFO_KIND ("" when it has
// none, e.g. a physical NIC). Throws SysError (ENODEV when there is no such link).
std::string LinkKind(NetlinkSocket& socket, const std::string& name) {
  NlMessage request(RTM_GETLINK, 0);
  request.AddHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  request.PutString(IFLA_IFNAME, name);
  // A single-link get answers with one RTM_NEWLINK before the ACK: read it as a dump would.
  std::vector<char> reply = socket.Dump(request, SysError{0, "RTM_GETLINK", name});
  std::string kind;
  ForEachMessage(reply.data(), reply.size(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWLINK) return;
    Attributes<ifinfomsg, IFLA_MAX> attrs(h);
    if (!attrs[IFLA_IFNAME] || AttrString(attrs[IFLA_IFNAME]) != name || !attrs[IFLA_LINKINFO]) return;
    const rtattr* info[IFLA_INFO_MAX + 1] = {};
    ParseAttributes(info, IFLA_INFO_MAX, static_cast<const rtattr*>(AttrData(attrs[IFLA_LINKINFO])),
                    static_cast<int>(AttrLength(attrs[IFLA_LINKINFO])));
    if (info[IFLA_INFO_KIND]) kind = AttrString(info[IFLA_INFO_KIND]);
  });
  return kind;
}

std::string RequireLinkName(Napi::Env env, const Napi::Value& v, const std::string& what) {
  std::string name = RequireString(env, v, what);
  if (name.empty() || name.size() >= IFNAMSIZ || name.find_first_of("/ \t\n:") != std::string::npos) {
    ThrowTypeError(env, what + " must be an interface name of 1 to 15 characters without '/', ':' or spaces, got \"" +
                            name + "\"");
  }
  return name;
}

// Sends RTM_NEWLINK creating `name` of `kind`, up.
NlStatus CreateLink(NetlinkSocket& socket, const std::string& name, const std::string& kind) {
  NlMessage create(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifi = create.AddHeader<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_flags = ifi->ifi_change = IFF_UP;
  create.PutString(IFLA_IFNAME, name);
  // IFLA_LINKINFO { IFLA_INFO_KIND kind }: one nested attribute, built by hand.
  alignas(rtattr) char nested[RTA_SPACE(16)] = {};
  auto* info = reinterpret_cast<rtattr*>(nested);
  info->rta_type = IFLA_INFO_KIND;
  info->rta_len = static_cast<unsigned short>(RTA_LENGTH(kind.size() + 1));
  std::memcpy(RTA_DATA(info), kind.c_str(), kind.size() + 1);
  create.Put(IFLA_LINKINFO, nested, RTA_ALIGN(info->rta_len));
  return socket.Request(create, SysError{0, "RTM_NEWLINK", name});
}

// ensureDummyLink(name): creates a dummy link (or, on kernels built without the dummy driver,
// an ifb link: it too carries addresses, has no ARP and keeps its carrier), or accepts an
// existing link of either kind; then sets it up. Returns { created, kind }. An existing link of
// another kind is EEXIST.
Napi::Value EnsureDummyLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireLinkName(env, info[0], "ensureDummyLink: name");
  NetlinkSocket& socket = RequestSocket(env);
  auto result = [&](bool created, const std::string& kind) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("created", Napi::Boolean::New(env, created));
    o.Set("kind", Napi::String::New(env, kind));
    return o;
  };

  std::string kind = "dummy";
  NlStatus status = CreateLink(socket, name, kind);
  if (status.error == EOPNOTSUPP) {
    kind = "ifb";
    status = CreateLink(socket, name, kind);
  }
  if (status.error == 0) return result(true, kind);
  if (status.error != EEXIST) throw SysError{status.error, "RTM_NEWLINK", name, "", -1, status.extack};

  std::string existing = LinkKind(socket, name);
  if (existing != "dummy" && existing != "ifb") {
    throw SysError{EEXIST, "RTM_NEWLINK", name, "", -1,
                   existing.empty() ? "exists and is not a dummy link" : "exists and is a " + existing + " link, not a dummy link"};
  }
  NlMessage up(RTM_NEWLINK, 0);
  auto* upInfo = up.AddHeader<ifinfomsg>();
  upInfo->ifi_family = AF_UNSPEC;
  upInfo->ifi_flags = upInfo->ifi_change = IFF_UP;
  up.PutString(IFLA_IFNAME, name);
  status = socket.Request(up, SysError{0, "RTM_NEWLINK", name});
  if (status.error) throw SysError{status.error, "RTM_NEWLINK", name, "", -1, status.extack};
  return result(false, existing);
}

// deleteLink(name): RTM_DELLINK; false when there was no such link.
Napi::Value DeleteLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireLinkName(env, info[0], "deleteLink: name");
  NlMessage message(RTM_DELLINK, 0);
  message.AddHeader<ifinfomsg>()->ifi_family = AF_UNSPEC;
  message.PutString(IFLA_IFNAME, name);
  NlStatus status = RequestSocket(env).Request(message, SysError{0, "RTM_DELLINK", name});
  if (status.error == ENODEV) return Napi::Boolean::New(env, false);
  if (status.error) throw SysError{status.error, "RTM_DELLINK", name, "", -1, status.extack};
  return Napi::Boolean::New(env, true);
}

struct RouteRequest {
  IpAddress destination;
  int prefixLength = 0;
  std::string iface;
  uint32_t table = 0;
  int protocol = 0;
  bool hasSource = false;
  IpAddress source;
  uint32_t expires = 0;  // seconds, IPv6 only; 0: none
};

RouteRequest ReadRoute(Napi::Env env, const Napi::CallbackInfo& info, const std::string& method) {
  Napi::Object o = RequireObject(env, info[0], method + ": req");
  RouteRequest req;
  req.destination = RequireIp(env, o.Get("destination"), method + ": req.destination");
  bool v4 = req.destination.family == AF_INET;
  req.prefixLength = RequireInt(env, o.Get("prefixLength"), method + ": req.prefixLength", 0, v4 ? 32 : 128);
  req.iface = RequireLinkName(env, o.Get("interface"), method + ": req.interface");
  // 253-255 are the kernel's default, main and local tables: never vippy's to change.
  req.table = static_cast<uint32_t>(RequireInt(env, o.Get("table"), method + ": req.table", 1, INT32_MAX));
  if (req.table >= RT_TABLE_DEFAULT && req.table <= RT_TABLE_LOCAL) {
    ThrowTypeError(env, method + ": req.table must not be 253, 254 or 255 (the default, main and local tables)");
  }
  // 0-4 are the kernel's own (unspec, redirect, kernel, boot, static).
  req.protocol = RequireInt(env, o.Get("protocol"), method + ": req.protocol", 5, 255);
  Napi::Value source = o.Get("source");
  if (!source.IsUndefined()) {
    req.hasSource = true;
    req.source = RequireIp(env, source, method + ": req.source", req.destination.family);
  }
  Napi::Value expires = o.Get("expiresSeconds");
  if (!expires.IsUndefined()) {
    if (v4) ThrowTypeError(env, method + ": req.expiresSeconds is for IPv6 routes only (the kernel has no IPv4 route lifetimes)");
    req.expires = static_cast<uint32_t>(RequireInt(env, expires, method + ": req.expiresSeconds", 1, INT32_MAX));
  }
  return req;
}

NlStatus ChangeRoute(NetlinkSocket& socket, const RouteRequest& req, uint16_t type, uint16_t flags, SysError& context) {
  context = SysError{0, type == RTM_NEWROUTE ? "RTM_NEWROUTE" : "RTM_DELROUTE", req.iface,
                     FormatIp(req.destination.family, req.destination.bytes), req.prefixLength};
  int index = InterfaceIndex(req.iface, context);
  NlMessage message(type, flags);
  auto* rtm = message.AddHeader<rtmsg>();
  rtm->rtm_family = static_cast<unsigned char>(req.destination.family);
  rtm->rtm_dst_len = static_cast<unsigned char>(req.prefixLength);
  rtm->rtm_table = static_cast<unsigned char>(req.table < 256 ? req.table : unsigned{RT_TABLE_UNSPEC});
  rtm->rtm_protocol = static_cast<unsigned char>(req.protocol);
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  message.Put(RTA_DST, req.destination.bytes, req.destination.length());
  message.PutU32(RTA_TABLE, req.table);
  message.PutU32(RTA_OIF, static_cast<uint32_t>(index));
  if (type == RTM_NEWROUTE) {
    if (req.hasSource) message.Put(RTA_PREFSRC, req.source.bytes, req.source.length());
    if (req.expires) message.PutU32(RTA_EXPIRES, req.expires);
  }
  return socket.Request(message, context);
}

// ensureRoute(req): true when it added the route; false when it was there (a given
// expiresSeconds is then renewed by replacing it).
Napi::Value EnsureRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RouteRequest req = ReadRoute(env, info, "ensureRoute");
  NetlinkSocket& socket = RequestSocket(env);
  SysError context;
  NlStatus status = ChangeRoute(socket, req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, context);
  if (status.error == 0) return Napi::Boolean::New(env, true);
  if (status.error == EEXIST) {
    if (req.expires) status = ChangeRoute(socket, req, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, context);
    if (status.error == EEXIST || status.error == 0) return Napi::Boolean::New(env, false);
  }
  context.code = status.error;
  context.extack = status.extack;
  throw context;
}

// ensureNoRoute(req): true when it removed the route; false when there was none.
Napi::Value EnsureNoRoute(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RouteRequest req = ReadRoute(env, info, "ensureNoRoute");
  SysError context;
  NlStatus status = ChangeRoute(RequestSocket(env), req, RTM_DELROUTE, 0, context);
  if (status.error == 0) return Napi::Boolean::New(env, true);
  // A route whose interface is gone went with it (ENODEV from the index lookup is thrown above).
  if (status.error == ESRCH) return Napi::Boolean::New(env, false);
  context.code = status.error;
  context.extack = status.extack;
  throw context;
}

// listRoutes(table): the unicast routes of one table, both families.
Napi::Value ListRoutes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t table = static_cast<uint32_t>(RequireInt(env, info[0], "listRoutes: table", 1, INT32_MAX));
  NlMessage request(RTM_GETROUTE, 0);
  request.AddHeader<rtmsg>()->rtm_family = AF_UNSPEC;
  std::vector<char> dump = RequestSocket(env).Dump(request, SysError{0, "RTM_GETROUTE"});
  InterfaceNames names(env);
  Napi::Array result = Napi::Array::New(env);
  uint32_t count = 0;
  ForEachMessage(dump.data(), dump.size(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type != RTM_NEWROUTE) return;
    auto* rtm = static_cast<const rtmsg*>(NLMSG_DATA(h));
    if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6) return;
    Attributes<rtmsg, RTA_MAX> attrs(h);
    uint32_t routeTable = attrs[RTA_TABLE] ? AttrU32(attrs[RTA_TABLE]) : rtm->rtm_table;
    if (routeTable != table || !attrs[RTA_DST]) return;
    Napi::Object route = Napi::Object::New(env);
    route.Set("family", Napi::Number::New(env, rtm->rtm_family == AF_INET ? 4 : 6));
    route.Set("destination", IpValue(env, rtm->rtm_family, AttrData(attrs[RTA_DST])));
    route.Set("prefixLength", Napi::Number::New(env, rtm->rtm_dst_len));
    route.Set("table", Napi::Number::New(env, routeTable));
    route.Set("protocol", Napi::Number::New(env, rtm->rtm_protocol));
    if (attrs[RTA_OIF]) route.Set("interface", names.Get(static_cast<int>(AttrU32(attrs[RTA_OIF]))));
    if (attrs[RTA_PREFSRC]) route.Set("source", IpValue(env, rtm->rtm_family, AttrData(attrs[RTA_PREFSRC])));
    result.Set(count++, route);
  });
  return result;
}

}  // namespace

void InitRoutes(Napi::Env env, Napi::Object exports) {
  exports.Set("ensureDummyLink", Napi::Function::New<GuardedMethod<EnsureDummyLink>>(env, "ensureDummyLink"));
  exports.Set("deleteLink", Napi::Function::New<GuardedMethod<DeleteLink>>(env, "deleteLink"));
  exports.Set("ensureRoute", Napi::Function::New<GuardedMethod<EnsureRoute>>(env, "ensureRoute"));
  exports.Set("ensureNoRoute", Napi::Function::New<GuardedMethod<EnsureNoRoute>>(env, "ensureNoRoute"));
  exports.Set("listRoutes", Napi::Function::New<GuardedMethod<ListRoutes>>(env, "listRoutes"));
}

}  // namespace vippy
