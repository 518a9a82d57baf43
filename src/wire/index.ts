// The wire layer: signed, replay-guarded chat datagrams (see codec.ts).
export { createCodec, REJECT_REASONS, DEFAULT_MAX_DATAGRAM, DEFAULT_SKEW_MS } from './codec.js';
export type { Codec, CodecOptions, Decoded, RejectReason } from './codec.js';
