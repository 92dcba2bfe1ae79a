// Our API keys: "cc_" + 32 random bytes in base62. Only the SHA-256 hash is ever stored.
import { randomBytes } from "node:crypto";

export const KEY_PREFIX = "cc_";
export const PUBLIC_ID_LENGTH = 8;
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
// 32 bytes = 256 bits; 43 base62 digits hold them (62^43 > 2^256).
const BODY_LENGTH = 43;
const KEY_PATTERN = new RegExp(`^${KEY_PREFIX}[0-9A-Za-z]{${BODY_LENGTH}}$`);
const PUBLIC_ID_PATTERN = new RegExp(`^[0-9A-Za-z]{${PUBLIC_ID_LENGTH}}$`);

export function generateKeyString(): string {
  let value = BigInt(`0x${randomBytes(32).toString("hex")}`);
  let body = "";
  for (let i = 0; i < BODY_LENGTH; i++) {
    body = BASE62[Number(value % 62n)]! + body;
    value /= 62n;
  }
  return KEY_PREFIX + body;
}

/** Cheap shape check before hashing: anything else is not one of our keys (and a 10 MB "key" is never hashed). */
export function looksLikeKey(candidate: string): boolean {
  return candidate.length === KEY_PREFIX.length + BODY_LENGTH && KEY_PATTERN.test(candidate);
}

export function isPublicId(candidate: string): boolean {
  return PUBLIC_ID_PATTERN.test(candidate);
}

export function hashKey(key: string): string {
  return new Bun.CryptoHasher("sha256").update(key).digest("hex");
}

export function publicIdOf(key: string): string {
  return key.slice(KEY_PREFIX.length, KEY_PREFIX.length + PUBLIC_ID_LENGTH);
}

export function maskKey(id: string, last4: string): string {
  return `${KEY_PREFIX}${id}…${last4}`;
}
