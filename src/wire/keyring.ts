// Keys for the envelope MAC. The cluster secret is the HMAC key; a key id (4 bytes) tells the
// receiver which key signed a datagram, so a secret can be rotated: sign with the new one while
// still accepting the old. The id is a hash of the secret under its own label, so it reveals
// nothing usable about the secret and is stable across restarts and nodes.
import { createHash, createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export const KEY_ID_BYTES = 4;
export const MAC_BYTES = 32;
/** Binds a MAC to this use and format version: the same key signing anything else cannot collide. */
const DOMAIN = Buffer.from('vippy-envelope-v1\0', 'latin1');
const SEPARATOR = Buffer.from([0]);

export interface Key {
  id: Buffer;
  /** Hex of id, for logs and maps. */
  idHex: string;
  /** A KeyObject: HMAC setup from it is measurably cheaper than from raw bytes. */
  secret: KeyObject;
}

export interface Keyring {
  /** Signs outgoing datagrams. */
  signing: Key;
  /** Accepted for incoming datagrams (the signing key and any rotation keys), by idHex. */
  find(idHex: string): Key | undefined;
}

export function deriveKey(secret: string): Key {
  if (secret.length === 0) throw new RangeError('wire: the secret must not be empty');
  const secretBytes = Buffer.from(secret, 'utf8');
  const id = createHash('sha256').update('vippy-key-id\0').update(secretBytes).digest().subarray(0, KEY_ID_BYTES);
  return { id, idHex: id.toString('hex'), secret: createSecretKey(secretBytes) };
}

/** `accept`: further secrets still accepted on receipt (key rotation). */
export function createKeyring(secret: string, accept: readonly string[] = []): Keyring {
  const signing = deriveKey(secret);
  const keys = new Map<string, Key>([[signing.idHex, signing]]);
  for (const extra of accept) {
    const key = deriveKey(extra);
    keys.set(key.idHex, key);
  }
  return { signing, find: (idHex) => keys.get(idHex) };
}

export function computeMac(key: Key, payload: Uint8Array): Buffer {
  return createHmac('sha256', key.secret).update(DOMAIN).update(key.id).update(SEPARATOR).update(payload).digest();
}

/** Constant time for a given length; a MAC of the wrong length is simply wrong. */
export function macMatches(key: Key, payload: Uint8Array, mac: Uint8Array): boolean {
  const expected = computeMac(key, payload);
  return mac.length === expected.length && timingSafeEqual(expected, mac);
}
