// Module init and the helpers every facility shares: the JS error built from a SysError,
// argument validation, address formatting and the per-environment request socket.
#include "addon.h"

#include <arpa/inet.h>
#include <uv.h>

#include <cmath>
#include <cstring>
#include <iterator>

namespace vippy {

Napi::Error ToJsError(Napi::Env env, const SysError& e) {
  // uv error codes are negated errnos on Linux, so libuv names them ("ENODEV").
  std::string name = uv_err_name(-e.code);
  std::string message = e.syscall;
  if (!e.address.empty()) {
    message += " " + e.address;
    if (e.prefixLength >= 0) message += "/" + std::to_string(e.prefixLength);
  }
  if (!e.iface.empty()) message += " on " + e.iface;
  message += ": " + name + " (" + std::strerror(e.code) + ")";
  if (!e.extack.empty()) message += ": " + e.extack;
  if (!e.detail.empty()) message += ": " + e.detail;

  Napi::Error error = Napi::Error::New(env, message);
  error.Set("code", name);
  // Node's convention for system errors: errno is negative (util.getSystemErrorName works).
  error.Set("errno", Napi::Number::New(env, -e.code));
  error.Set("syscall", e.syscall);
  if (!e.iface.empty()) error.Set("interface", e.iface);
  if (!e.address.empty()) error.Set("address", e.address);
  if (!e.extack.empty()) error.Set("extack", e.extack);
  return error;
}

void ThrowTypeError(Napi::Env env, const std::string& message) { throw Napi::TypeError::New(env, message); }

namespace {
std::string Describe(const Napi::Value& v) {
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsNumber()) return v.ToString().Utf8Value();
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  return v.IsObject() ? "an object" : "a " + std::string(v.IsBoolean() ? "boolean" : "value");
}
}  // namespace

std::string RequireString(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsString()) ThrowTypeError(env, what + " must be a string, got " + Describe(v));
  return v.As<Napi::String>().Utf8Value();
}

int RequireInt(Napi::Env env, const Napi::Value& v, const std::string& what, int min, int max) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= min && d <= max) || d != std::floor(d)) {
    ThrowTypeError(env, what + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                            ", got " + Describe(v));
  }
  return static_cast<int>(d);
}

Napi::Object RequireObject(Napi::Env env, const Napi::Value& v, const std::string& what) {
  if (!v.IsObject()) ThrowTypeError(env, what + " must be an object, got " + Describe(v));
  return v.As<Napi::Object>();
}

IpAddress RequireIp(Napi::Env env, const Napi::Value& v, const std::string& what, int family) {
  const char* expected = family == AF_INET ? "an IPv4 address" : family == AF_INET6 ? "an IPv6 address" : "an IP address";
  IpAddress ip;
  if (v.IsString()) {
    std::string text = v.As<Napi::String>().Utf8Value();
    for (int candidate : {AF_INET, AF_INET6}) {
      if ((family == 0 || family == candidate) && inet_pton(candidate, text.c_str(), ip.bytes) == 1) {
        ip.family = candidate;
        return ip;
      }
    }
  }
  ThrowTypeError(env, what + " must be " + expected + ", got " + Describe(v));
}

std::string FormatIp(int family, const void* bytes) {
  char text[INET6_ADDRSTRLEN];
  return inet_ntop(family, bytes, text, sizeof text) ? text : "";
}

namespace {
Napi::Value Latin1(Napi::Env env, const char* text, size_t length) {
  napi_value value;
  NAPI_THROW_IF_FAILED(env, napi_create_string_latin1(env, text, length, &value), Napi::Value());
  return Napi::Value(env, value);
}
}  // namespace

Napi::Value AsciiValue(Napi::Env env, const char* text) { return Latin1(env, text, std::strlen(text)); }

Napi::Value IpValue(Napi::Env env, int family, const void* bytes) {
  char text[INET6_ADDRSTRLEN];
  return AsciiValue(env, inet_ntop(family, bytes, text, sizeof text) ? text : "");
}

Napi::Value MacValue(Napi::Env env, const unsigned char* bytes, size_t length) {
  static const char digits[] = "0123456789abcdef";
  char text[3 * 32];
  size_t used = 0;
  bool allZero = true;
  for (size_t i = 0; i < length && i < 32; i++) {
    allZero = allZero && bytes[i] == 0;
    text[used++] = digits[bytes[i] >> 4];
    text[used++] = digits[bytes[i] & 15];
    text[used++] = ':';
  }
  return Latin1(env, text, allZero ? 0 : used - 1);
}

void RecordMaker::Init(Napi::Env env, std::initializer_list<const char*> fields) {
  std::string parameters, required, optional;
  int i = 0;
  for (std::string field : fields) {
    std::string parameter = "v" + std::to_string(i++);
    parameters += (parameters.empty() ? "" : ", ") + parameter;
    if (field.back() == '?') {
      field.pop_back();
      optional += "if (" + parameter + " !== undefined) o." + field + " = " + parameter + "; ";
    } else {
      required += (required.empty() ? "" : ", ") + field + ": " + parameter;
    }
  }
  std::string source = "(function (target, " + parameters + ") { const o = { " + required + " }; " + optional +
                       "if (target !== undefined) target.push(o); return o; })";
  napi_value function;
  NAPI_THROW_IF_FAILED_VOID(env, napi_run_script(env, Napi::String::New(env, source), &function));
  function_ = Napi::Persistent(Napi::Function(env, function));
}

Napi::Object RecordMaker::Make(Napi::Env env, std::initializer_list<napi_value> values, napi_value appendTo) const {
  napi_value arguments[16];
  size_t count = 0;
  arguments[count++] = appendTo ? appendTo : napi_value(env.Undefined());
  for (napi_value value : values) {
    if (count == std::size(arguments)) throw Napi::Error::New(env, "RecordMaker: too many fields");
    arguments[count++] = value;
  }
  return function_.Value().Call(env.Undefined(), count, arguments).As<Napi::Object>();
}

NetlinkSocket& RequestSocket(Napi::Env env) {
  NetlinkSocket& socket = State(env).rtnl;
  if (!socket.isOpen()) socket.Open(0);
  return socket;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonState());
  InitLinks(env, exports);
  InitAddresses(env, exports);
  InitNeighbours(env, exports);
  InitEvents(env, exports);
  InitFrames(env, exports);
  InitSyslog(env, exports);
  InitRoutes(env, exports);
  InitFence(env, exports);
  return exports;
}

}  // namespace vippy

// NODE_API_MODULE pastes its argument into a name, so it needs an unqualified one.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return vippy::Init(env, exports); }
NODE_API_MODULE(vippy, InitModule)
