// MD5 for the incremental placer's hot loop. node:crypto costs about 1 µs a call in set-up alone
// (hash object, hex string); a join at 1,000 nodes × 100,000 groups needs 100,000 digests within
// 50 ms, which only a call-free implementation over preallocated buffers reaches. The rounds are
// RFC 1321's, unrolled. Checked against node:crypto in test/unit/placement-md5.test.ts; place()
// itself uses node:crypto, so the two implementations also check each other there.

let block = new Int32Array(32);

/**
 * MD5 of the bytes of `prefix` followed by those of `suffix`, written to out[offset .. offset+4)
 * with each word byte-swapped, so that comparing the four words as unsigned numbers orders
 * digests exactly as their hex strings order.
 */
export function md5Into(prefix: Uint8Array, suffix: Uint8Array, out: Uint32Array, offset: number): void {
  const length = prefix.length + suffix.length;
  const blocks = ((length + 8) >>> 6) + 1;
  if (block.length < blocks * 16) block = new Int32Array(blocks * 16);
  block.fill(0, 0, blocks * 16);
  // Little-endian words straight from the bytes, then RFC 1321's padding and bit length.
  for (let i = 0; i < prefix.length; i++) block[i >>> 2] |= prefix[i] << ((i & 3) << 3);
  for (let j = 0, i = prefix.length; j < suffix.length; j++, i++) block[i >>> 2] |= suffix[j] << ((i & 3) << 3);
  block[length >>> 2] |= 0x80 << ((length & 3) << 3);
  block[blocks * 16 - 2] = length << 3;
  block[blocks * 16 - 1] = Math.floor(length / 2 ** 29);

  let a0 = 0x67452301, b0 = 0xefcdab89 | 0, c0 = 0x98badcfe | 0, d0 = 0x10325476;
  for (let base = 0; base < blocks * 16; base += 16) {
    let a = a0, b = b0, c = c0, d = d0, t: number;
    t = (a + ((b & c) | (~b & d)) + block[base] - 680876936) | 0; a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + block[base + 1] - 389564586) | 0; d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + block[base + 2] + 606105819) | 0; c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + block[base + 3] - 1044525330) | 0; b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + block[base + 4] - 176418897) | 0; a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + block[base + 5] + 1200080426) | 0; d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + block[base + 6] - 1473231341) | 0; c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + block[base + 7] - 45705983) | 0; b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + block[base + 8] + 1770035416) | 0; a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + block[base + 9] - 1958414417) | 0; d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + block[base + 10] - 42063) | 0; c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + block[base + 11] - 1990404162) | 0; b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & c) | (~b & d)) + block[base + 12] + 1804603682) | 0; a = (b + ((t << 7) | (t >>> 25))) | 0;
    t = (d + ((a & b) | (~a & c)) + block[base + 13] - 40341101) | 0; d = (a + ((t << 12) | (t >>> 20))) | 0;
    t = (c + ((d & a) | (~d & b)) + block[base + 14] - 1502002290) | 0; c = (d + ((t << 17) | (t >>> 15))) | 0;
    t = (b + ((c & d) | (~c & a)) + block[base + 15] + 1236535329) | 0; b = (c + ((t << 22) | (t >>> 10))) | 0;
    t = (a + ((b & d) | (c & ~d)) + block[base + 1] - 165796510) | 0; a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + block[base + 6] - 1069501632) | 0; d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + block[base + 11] + 643717713) | 0; c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + block[base] - 373897302) | 0; b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + block[base + 5] - 701558691) | 0; a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + block[base + 10] + 38016083) | 0; d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + block[base + 15] - 660478335) | 0; c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + block[base + 4] - 405537848) | 0; b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + block[base + 9] + 568446438) | 0; a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + block[base + 14] - 1019803690) | 0; d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + block[base + 3] - 187363961) | 0; c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + block[base + 8] + 1163531501) | 0; b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + ((b & d) | (c & ~d)) + block[base + 13] - 1444681467) | 0; a = (b + ((t << 5) | (t >>> 27))) | 0;
    t = (d + ((a & c) | (b & ~c)) + block[base + 2] - 51403784) | 0; d = (a + ((t << 9) | (t >>> 23))) | 0;
    t = (c + ((d & b) | (a & ~b)) + block[base + 7] + 1735328473) | 0; c = (d + ((t << 14) | (t >>> 18))) | 0;
    t = (b + ((c & a) | (d & ~a)) + block[base + 12] - 1926607734) | 0; b = (c + ((t << 20) | (t >>> 12))) | 0;
    t = (a + (b ^ c ^ d) + block[base + 5] - 378558) | 0; a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + block[base + 8] - 2022574463) | 0; d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + block[base + 11] + 1839030562) | 0; c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + block[base + 14] - 35309556) | 0; b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + block[base + 1] - 1530992060) | 0; a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + block[base + 4] + 1272893353) | 0; d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + block[base + 7] - 155497632) | 0; c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + block[base + 10] - 1094730640) | 0; b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + block[base + 13] + 681279174) | 0; a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + block[base] - 358537222) | 0; d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + block[base + 3] - 722521979) | 0; c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + block[base + 6] + 76029189) | 0; b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (b ^ c ^ d) + block[base + 9] - 640364487) | 0; a = (b + ((t << 4) | (t >>> 28))) | 0;
    t = (d + (a ^ b ^ c) + block[base + 12] - 421815835) | 0; d = (a + ((t << 11) | (t >>> 21))) | 0;
    t = (c + (d ^ a ^ b) + block[base + 15] + 530742520) | 0; c = (d + ((t << 16) | (t >>> 16))) | 0;
    t = (b + (c ^ d ^ a) + block[base + 2] - 995338651) | 0; b = (c + ((t << 23) | (t >>> 9))) | 0;
    t = (a + (c ^ (b | ~d)) + block[base] - 198630844) | 0; a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + block[base + 7] + 1126891415) | 0; d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + block[base + 14] - 1416354905) | 0; c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + block[base + 5] - 57434055) | 0; b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + block[base + 12] + 1700485571) | 0; a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + block[base + 3] - 1894986606) | 0; d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + block[base + 10] - 1051523) | 0; c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + block[base + 1] - 2054922799) | 0; b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + block[base + 8] + 1873313359) | 0; a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + block[base + 15] - 30611744) | 0; d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + block[base + 6] - 1560198380) | 0; c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + block[base + 13] + 1309151649) | 0; b = (c + ((t << 21) | (t >>> 11))) | 0;
    t = (a + (c ^ (b | ~d)) + block[base + 4] - 145523070) | 0; a = (b + ((t << 6) | (t >>> 26))) | 0;
    t = (d + (b ^ (a | ~c)) + block[base + 11] - 1120210379) | 0; d = (a + ((t << 10) | (t >>> 22))) | 0;
    t = (c + (a ^ (d | ~b)) + block[base + 2] + 718787259) | 0; c = (d + ((t << 15) | (t >>> 17))) | 0;
    t = (b + (d ^ (c | ~a)) + block[base + 9] - 343485551) | 0; b = (c + ((t << 21) | (t >>> 11))) | 0;
    a0 = (a0 + a) | 0;
    b0 = (b0 + b) | 0;
    c0 = (c0 + c) | 0;
    d0 = (d0 + d) | 0;
  }
  out[offset] = byteSwap(a0);
  out[offset + 1] = byteSwap(b0);
  out[offset + 2] = byteSwap(c0);
  out[offset + 3] = byteSwap(d0);
}

function byteSwap(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Hex form of a digest written by md5Into (the text vippy compares). */
export function digestHex(digest: Uint32Array, offset: number): string {
  let hex = '';
  for (let i = 0; i < 4; i++) hex += digest[offset + i].toString(16).padStart(8, '0');
  return hex;
}
