# node-gyp build of the addon, for hosts without cmake (scripts/install-native.cjs picks it).
# Kept in the shape of CMakeLists.txt: every native/*.cc, the same defines and flags; uv.h and
# the Node-API headers come from the Node headers node-gyp builds against.
{
  "targets": [
    {
      "target_name": "vippy",
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter((f) => f.endsWith('.cc')).sort().map((f) => 'native/' + f).join(' ')\")"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fexceptions", "-O2", "-fvisibility=hidden"]
    }
  ]
}
