// Read by pkg-prebuilds (loader and verify). CommonJS because verify require()s it.
module.exports = { name: 'vippy', napi_versions: [8] };
