# node-gyp build of the addon, for hosts without cmake (scripts/install-native.cjs picks it).
# Kept in the shape of CMakeLists.txt: every native/*.cc, the same defines and flags; uv.h and
# the Node-API headers come from the Node headers node-gyp builds against. The fence keeper is
# built first and embedded by native/fence.cc, as CMake does (the path is relative to build/,
# where make runs; node-gyp builds Release).
{
  "targets": [
    {
      "target_name": "vippy-fence",
      "type": "executable",
      "sources": ["native/fence/keeper.cc"],
      "cflags_cc": ["-Wall", "-Wextra", "-O2"],
      "ldflags": ["-s", "-static-libstdc++", "-static-libgcc", "-Wl,--as-needed"]
    },
    {
      "target_name": "vippy",
      "dependencies": ["vippy-fence"],
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter((f) => f.endsWith('.cc')).sort().map((f) => 'native/' + f).join(' ')\")"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "VIPPY_FENCE_IMAGE=\"Release/vippy-fence\""],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fexceptions", "-O2", "-fvisibility=hidden"]
    }
  ]
}
