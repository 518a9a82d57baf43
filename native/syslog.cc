// libc syslog for the logging driver: openlog with a facility name, syslog with a level name.
#include <syslog.h>

#include <string>
#include <utility>

#include "addon.h"

namespace vippy {

namespace {

const std::pair<const char*, int> kFacilities[] = {
    {"kern", LOG_KERN},     {"user", LOG_USER},     {"mail", LOG_MAIL},     {"daemon", LOG_DAEMON},
    {"auth", LOG_AUTH},     {"syslog", LOG_SYSLOG}, {"lpr", LOG_LPR},       {"news", LOG_NEWS},
    {"uucp", LOG_UUCP},     {"cron", LOG_CRON},     {"authpriv", LOG_AUTHPRIV}, {"ftp", LOG_FTP},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

const std::pair<const char*, int> kLevels[] = {
    {"emerg", LOG_EMERG},     {"alert", LOG_ALERT},   {"crit", LOG_CRIT}, {"err", LOG_ERR},
    {"warning", LOG_WARNING}, {"notice", LOG_NOTICE}, {"info", LOG_INFO}, {"debug", LOG_DEBUG},
};

template <size_t N>
int Lookup(Napi::Env env, const std::pair<const char*, int> (&table)[N], const Napi::Value& v, const std::string& what) {
  std::string name = RequireString(env, v, what);
  for (const auto& [candidate, value] : table) {
    if (name == candidate) return value;
  }
  std::string known;
  for (const auto& entry : table) known += (known.empty() ? "" : ", ") + std::string(entry.first);
  ThrowTypeError(env, what + " must be one of " + known + ", got \"" + name + "\"");
}

// openlog keeps the pointer it is given, so the ident must outlive the call.
std::string ident;

Napi::Value OpenLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = RequireString(env, info[0], "openlog: ident");
  int facility = Lookup(env, kFacilities, info[1], "openlog: facility");
  closelog();
  ident = name;
  openlog(ident.c_str(), LOG_PID | LOG_NDELAY, facility);
  return env.Undefined();
}

Napi::Value Syslog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int level = Lookup(env, kLevels, info[0], "syslog: level");
  std::string message = RequireString(env, info[1], "syslog: message");
  syslog(level, "%s", message.c_str());
  return env.Undefined();
}

Napi::Value CloseLog(const Napi::CallbackInfo& info) {
  closelog();
  return info.Env().Undefined();
}

}  // namespace

void InitSyslog(Napi::Env env, Napi::Object exports) {
  exports.Set("openlog", Napi::Function::New<OpenLog>(env, "openlog"));
  exports.Set("syslog", Napi::Function::New<Syslog>(env, "syslog"));
  exports.Set("closelog", Napi::Function::New<CloseLog>(env, "closelog"));
}

}  // namespace vippy
