// Index lists (groups held, nodes heard) travel as bitmaps: 64 groups cost 8 bytes instead of
// a varint per index. Bit i lives in byte i >> 3 at position i & 7 (least significant first).

/**
 * Indices (any order, duplicates harmless) → bitmap. Throws a RangeError naming the field on an
 * index that is not an integer in [0, limit): `limit` keeps a stray huge index from allocating.
 */
export function indicesToBitmap(indices: readonly number[], field: string, limit: number): Uint8Array {
  let highest = -1;
  for (const index of indices) {
    if (!Number.isInteger(index) || index < 0 || index >= limit) {
      throw new RangeError(`${field}: index ${index} is not an integer in [0, ${limit})`);
    }
    if (index > highest) highest = index;
  }
  const bitmap = new Uint8Array((highest + 8) >> 3);
  for (const index of indices) bitmap[index >> 3] |= 1 << (index & 7);
  return bitmap;
}

/** Bitmap → ascending indices. */
export function bitmapToIndices(bitmap: Uint8Array): number[] {
  const indices: number[] = [];
  for (let byte = 0; byte < bitmap.length; byte++) {
    const bits = bitmap[byte];
    if (bits === 0) continue;
    for (let bit = 0; bit < 8; bit++) if (bits & (1 << bit)) indices.push(byte * 8 + bit);
  }
  return indices;
}
