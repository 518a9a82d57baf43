#include <napi.h>
// Placeholder module init; the facilities register themselves here.
static Napi::Object Init(Napi::Env env, Napi::Object exports) { return exports; }
NODE_API_MODULE(vippy, Init)
