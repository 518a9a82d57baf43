// src/config: read vippy and flip files into one normalized ClusterConfig.

export type * from './model.js';
export { ConfigError, formatProblem, type Problem } from './errors.js';
export { loadConfigFile, parseConfig, detectFormat, type ConfigFormat, type LoadedConfig, type ParseOptions } from './load.js';
export { fingerprint, canonicalJson } from './fingerprint.js';
export { transferDocument, adoptTransferred, renderConfigFile } from './transfer.js';
export { summarizeConfig, checkTarget } from './summary.js';
