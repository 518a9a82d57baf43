# node-gyp build of the addon, for hosts without cmake (scripts/install-native.cjs picks it).
# Kept in the shape of CMakeLists.txt: every native/*.cc, the same defines and flags, and the
# fence keeper (native/fence/keeper.cc) built first as its own executable and embedded by
# native/fence.cc; uv.h and the Node-API headers come from the Node headers node-gyp builds against.
{
  "targets": [
    {
      "target_name": "vippy-fence",
      "type": "executable",
      "sources": ["native/fence/keeper.cc"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-Wall", "-Wextra", "-O2", "-fno-exceptions", "-fno-rtti"],
      "ldflags": ["-s", "-static-libstdc++", "-static-libgcc", "-Wl,--as-needed"]
    },
    {
      "target_name": "vippy",
      "dependencies": ["vippy-fence"],
      "sources": ["<!@(node -p \"require('fs').readdirSync('native').filter((f) => f.endsWith('.cc')).sort().map((f) => 'native/' + f).join(' ')\")"],
      "include_dirs": ["<!@(node -p \"require('node-addon-api').include\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "VIPPY_FENCE_IMAGE=\"<(module_root_dir)/build/Release/vippy-fence\""],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-fexceptions", "-O2", "-fvisibility=hidden"]
    }
  ]
}
