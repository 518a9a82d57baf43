// Addresses: list, add, delete and their idempotent "ensure" forms. IPv4 takes an optional
// label and broadcast; IPv6 is added with IFA_F_NODAD so a VIP is usable at once (no DAD wait,
// no "dadfailed" while the previous owner still holds it). An optional lifetime (IFA_CACHEINFO,
// whole seconds) makes the kernel delete the address by itself unless it is renewed: a lease
// that a dead or frozen daemon cannot keep.
#include "addresses.h"

#include <arpa/inet.h>
#include <linux/if_addr.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "addon.h"

namespace vippy {

namespace {

// The kernel's "forever" (include/net/addrconf.h does not reach user space).
constexpr uint32_t kForever = 0xFFFFFFFFu;

struct AddressRequest {
  std::string iface;
  IpAddress ip;
  int prefixLength = 0;
  std::string label;
  bool hasBroadcast = false;
  unsigned char broadcast[4] = {};
  bool hasLifetime = false;
  uint32_t lifetime = kForever;  // seconds
};

AddressRequest ReadRequest(Napi::Env env, const Napi::CallbackInfo& info, const std::string& method) {
  Napi::Object o = RequireObject(env, info[0], method + ": req");
  AddressRequest req;
  req.iface = RequireString(env, o.Get("interface"), method + ": req.interface");
  req.ip = RequireIp(env, o.Get("address"), method + ": req.address");
  bool v4 = req.ip.family == AF_INET;
  req.prefixLength = RequireInt(env, o.Get("prefixLength"), method + ": req.prefixLength", 0, v4 ? 32 : 128);
  Napi::Value label = o.Get("label");
  if (!label.IsUndefined()) {
    if (!v4) ThrowTypeError(env, method + ": req.label is for IPv4 addresses only");
    req.label = RequireString(env, label, method + ": req.label");
    if (req.label.empty() || req.label.size() >= 16) {
      ThrowTypeError(env, method + ": req.label must be 1 to 15 characters, got \"" + req.label + "\"");
    }
  }
  Napi::Value broadcast = o.Get("broadcast");
  if (!broadcast.IsUndefined()) {
    if (!v4) ThrowTypeError(env, method + ": req.broadcast is for IPv4 addresses only");
    if (broadcast.IsString() && broadcast.As<Napi::String>().Utf8Value() == "+") {
      // Like `ip addr add ... brd +`: host bits set; /31 and /32 have no broadcast address.
      req.hasBroadcast = req.prefixLength <= 30;
      uint32_t host = req.prefixLength == 0 ? ~0u : (1u << (32 - req.prefixLength)) - 1;
      uint32_t address;
      std::memcpy(&address, req.ip.bytes, 4);
      address = htonl(ntohl(address) | host);
      std::memcpy(req.broadcast, &address, 4);
    } else {
      IpAddress b = RequireIp(env, broadcast, method + ": req.broadcast (an IPv4 address or \"+\")", AF_INET);
      req.hasBroadcast = true;
      std::memcpy(req.broadcast, b.bytes, 4);
    }
  }
  Napi::Value lifetime = o.Get("lifetimeSeconds");
  if (!lifetime.IsUndefined()) {
    req.hasLifetime = true;
    // The kernel refuses 0 (EINVAL) and reads 0xFFFFFFFF as "forever": Infinity says that here.
    bool forever = lifetime.IsNumber() && lifetime.As<Napi::Number>().DoubleValue() == INFINITY;
    if (!forever) {
      req.lifetime = static_cast<uint32_t>(RequireInt(env, lifetime, method + ": req.lifetimeSeconds (or Infinity)", 1, INT32_MAX));
    }
  }
  return req;
}

// Sends RTM_NEWADDR (create; exclusive, or replacing: that updates an existing address's
// lifetime) or RTM_DELADDR; returns the kernel's status. Deletion matches address and prefix
// length (both families), not the label.
NlStatus Change(Napi::Env env, const AddressRequest& req, uint16_t type, SysError& context, bool replace = false) {
  context = SysError{0, type == RTM_NEWADDR ? "RTM_NEWADDR" : "RTM_DELADDR", req.iface,
                     FormatIp(req.ip.family, req.ip.bytes), req.prefixLength};
  int index = InterfaceIndex(req.iface, context);
  NlMessage message(type, type == RTM_NEWADDR ? NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL) : 0);
  auto* ifa = message.AddHeader<ifaddrmsg>();
  ifa->ifa_family = static_cast<unsigned char>(req.ip.family);
  ifa->ifa_prefixlen = static_cast<unsigned char>(req.prefixLength);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<unsigned>(index);
  message.Put(IFA_LOCAL, req.ip.bytes, req.ip.length());
  message.Put(IFA_ADDRESS, req.ip.bytes, req.ip.length());
  if (type == RTM_NEWADDR) {
    if (!req.label.empty()) message.PutString(IFA_LABEL, req.label);
    if (req.hasBroadcast) message.Put(IFA_BROADCAST, req.broadcast, 4);
    if (req.hasLifetime) {
      ifa_cacheinfo lifetime{};
      lifetime.ifa_prefered = lifetime.ifa_valid = req.lifetime;
      message.Put(IFA_CACHEINFO, &lifetime, sizeof lifetime);
    }
    if (req.ip.family == AF_INET6) {
      ifa->ifa_flags = IFA_F_NODAD;
      message.PutU32(IFA_FLAGS, IFA_F_NODAD);
    }
  }
  return RequestSocket(env).Request(message, context);
}

// Applies the change; `tolerated` (EEXIST / EADDRNOTAVAIL) means "already so" and returns false.
bool Apply(const Napi::CallbackInfo& info, uint16_t type, const char* method, int tolerated) {
  Napi::Env env = info.Env();
  AddressRequest req = ReadRequest(env, info, method);
  SysError context;
  NlStatus status = Change(env, req, type, context);
  if (status.error == 0) return true;
  if (status.error == tolerated) {
    // Present already: a given lifetime still applies (this is how a lease is renewed).
    if (type == RTM_NEWADDR && req.hasLifetime) status = Change(env, req, type, context, true);
    if (status.error == tolerated || status.error == 0) return false;
  }
  context.code = status.error;
  context.extack = status.extack;
  throw context;
}

Napi::Value AddAddress(const Napi::CallbackInfo& info) {
  Apply(info, RTM_NEWADDR, "addAddress", 0);
  return info.Env().Undefined();
}
Napi::Value DeleteAddress(const Napi::CallbackInfo& info) {
  Apply(info, RTM_DELADDR, "deleteAddress", 0);
  return info.Env().Undefined();
}
Napi::Value EnsureAddress(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Apply(info, RTM_NEWADDR, "ensureAddress", EEXIST));
}
Napi::Value EnsureNoAddress(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), Apply(info, RTM_DELADDR, "ensureNoAddress", EADDRNOTAVAIL));
}

Napi::Value ListAddresses(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NlMessage request(RTM_GETADDR, 0);
  request.AddHeader<ifaddrmsg>()->ifa_family =
      static_cast<unsigned char>(RequireFamily(env, info[0], "listAddresses: family"));
  std::vector<char> dump = RequestSocket(env).Dump(request, SysError{0, "RTM_GETADDR"});
  InterfaceNames names(env);
  Napi::Array result = Napi::Array::New(env);
  ForEachMessage(dump.data(), dump.size(), [&](const nlmsghdr* h) {
    if (h->nlmsg_type == RTM_NEWADDR) AddressToJs(env, h, names, result);
  });
  return result;
}

}  // namespace

int RequireFamily(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (v.IsUndefined()) return AF_UNSPEC;
  if (v.IsNumber() && v.As<Napi::Number>().DoubleValue() == 4) return AF_INET;
  if (v.IsNumber() && v.As<Napi::Number>().DoubleValue() == 6) return AF_INET6;
  ThrowTypeError(env, what + " must be 4, 6 or undefined");
}

Napi::Object AddressToJs(Napi::Env env, const nlmsghdr* h, InterfaceNames& names, napi_value appendTo) {
  auto* ifa = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
  if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) return Napi::Object();
  Attributes<ifaddrmsg, IFA_MAX> attrs(h);
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const rtattr* local = attrs[IFA_LOCAL] ? attrs[IFA_LOCAL] : attrs[IFA_ADDRESS];
  if (!local) return Napi::Object();
  bool v4 = ifa->ifa_family == AF_INET;
  uint32_t flags = attrs[IFA_FLAGS] ? AttrU32(attrs[IFA_FLAGS]) : ifa->ifa_flags;
  // Seconds left (the kernel counts down from the last add/replace); absent when permanent.
  uint32_t valid = kForever;
  if (attrs[IFA_CACHEINFO] && AttrLength(attrs[IFA_CACHEINFO]) >= sizeof(ifa_cacheinfo)) {
    valid = static_cast<const ifa_cacheinfo*>(AttrData(attrs[IFA_CACHEINFO]))->ifa_valid;
  }
  int index = static_cast<int>(ifa->ifa_index);
  // IFA_F_SECONDARY shares its bit with IPv6's IFA_F_TEMPORARY: only IPv4 has secondaries.
  return State(env).address.Make(env, {
      Napi::Number::New(env, v4 ? 4 : 6), IpValue(env, ifa->ifa_family, AttrData(local)),
      Napi::Number::New(env, ifa->ifa_prefixlen), Napi::Number::New(env, index), names.Get(index),
      attrs[IFA_LABEL] ? Napi::String::New(env, AttrString(attrs[IFA_LABEL])) : env.Undefined(),
      attrs[IFA_BROADCAST] ? IpValue(env, AF_INET, AttrData(attrs[IFA_BROADCAST])) : env.Undefined(),
      Napi::Number::New(env, flags), Napi::Boolean::New(env, flags & IFA_F_TENTATIVE),
      Napi::Boolean::New(env, flags & IFA_F_NODAD), Napi::Boolean::New(env, v4 && (flags & IFA_F_SECONDARY)),
      valid == kForever ? env.Undefined() : Napi::Number::New(env, valid)},
      appendTo);
}

void InitAddresses(Napi::Env env, Napi::Object exports) {
  State(env).address.Init(env, {"family", "address", "prefixLength", "ifindex", "interface", "label?", "broadcast?",
                                "flags", "tentative", "nodad", "secondary", "validLifetime?"});
  exports.Set("listAddresses", Napi::Function::New<GuardedMethod<ListAddresses>>(env, "listAddresses"));
  exports.Set("addAddress", Napi::Function::New<GuardedMethod<AddAddress>>(env, "addAddress"));
  exports.Set("deleteAddress", Napi::Function::New<GuardedMethod<DeleteAddress>>(env, "deleteAddress"));
  exports.Set("ensureAddress", Napi::Function::New<GuardedMethod<EnsureAddress>>(env, "ensureAddress"));
  exports.Set("ensureNoAddress", Napi::Function::New<GuardedMethod<EnsureNoAddress>>(env, "ensureNoAddress"));
}

}  // namespace vippy
