// Shared plumbing of the addon: the error type every facility throws, its conversion to a JS
// error, argument validation helpers, and the per-environment state (the request socket).
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <string>

#include "netlink.h"

namespace vippy {

Napi::Error ToJsError(Napi::Env env, const SysError& e);

// Runs f, converting a SysError into the JS error (NAPI_CPP_EXCEPTIONS rethrows it into JS).
template <typename F>
auto Guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SysError& e) {
    throw ToJsError(env, e);
  }
}

// Wraps a free function so SysErrors reach JS as errors instead of terminating the process.
template <Napi::Value (*Method)(const Napi::CallbackInfo&)>
Napi::Value GuardedMethod(const Napi::CallbackInfo& info) {
  return Guarded(info.Env(), [&] { return Method(info); });
}

[[noreturn]] void ThrowTypeError(Napi::Env env, const std::string& message);

// Argument readers: each throws a TypeError naming `what` (e.g. "addAddress: req.address").
std::string RequireString(Napi::Env env, const Napi::Value& v, const std::string& what);
int RequireInt(Napi::Env env, const Napi::Value& v, const std::string& what, int min, int max);
Napi::Object RequireObject(Napi::Env env, const Napi::Value& v, const std::string& what);

// One IP address parsed from text; family is AF_INET or AF_INET6.
struct IpAddress {
  int family = 0;
  unsigned char bytes[16] = {};
  int length() const { return family == AF_INET ? 4 : 16; }
};
// Parses "192.0.2.1" / "2001:db8::1"; family 0 accepts either. Throws a TypeError naming `what`.
IpAddress RequireIp(Napi::Env env, const Napi::Value& v, const std::string& what, int family = 0);
// For messages.
std::string FormatIp(int family, const void* bytes);
// JS strings of addresses, built from a stack buffer as Latin-1 (ASCII: no UTF-8 decoding).
Napi::Value IpValue(Napi::Env env, int family, const void* bytes);
// "aa:bb:cc:dd:ee:ff"; "" when all zero (lo and tunnels have no hardware address).
Napi::Value MacValue(Napi::Env env, const unsigned char* bytes, size_t length);
Napi::Value AsciiValue(Napi::Env env, const char* text);

// Builds one plain JS object per call from positional values. V8 makes object literals far
// faster than N-API can set properties one by one: a 2,000-entry neighbour dump spent most of its
// time in napi_set_named_property and napi_set_element before this.
class RecordMaker {
 public:
  // Property names in argument order; a name ending in '?' is left out when its value is undefined.
  void Init(Napi::Env env, std::initializer_list<const char*> fields);
  // The new object; also pushed onto appendTo when given (cheaper than napi_set_element).
  Napi::Object Make(Napi::Env env, std::initializer_list<napi_value> values, napi_value appendTo = nullptr) const;

 private:
  Napi::FunctionReference function_;
};

// State owned by one JS environment (main thread or a worker): the request/dump socket and the
// classes whose instances the addon hands out.
struct AddonState {
  NetlinkSocket rtnl;
  RecordMaker link, address, neighbour;
  Napi::FunctionReference watcherClass;
  Napi::FunctionReference frameSenderClass;
};
inline AddonState& State(Napi::Env env) { return *env.GetInstanceData<AddonState>(); }
NetlinkSocket& RequestSocket(Napi::Env env);

// Facility registration, one per native/*.cc.
void InitLinks(Napi::Env env, Napi::Object exports);
void InitAddresses(Napi::Env env, Napi::Object exports);
void InitNeighbours(Napi::Env env, Napi::Object exports);
void InitEvents(Napi::Env env, Napi::Object exports);
void InitFrames(Napi::Env env, Napi::Object exports);
void InitSyslog(Napi::Env env, Napi::Object exports);
void InitRoutes(Napi::Env env, Napi::Object exports);
void InitFence(Napi::Env env, Napi::Object exports);

}  // namespace vippy
