// The credential, in one room: how ids and secrets are minted, what the store keeps of a secret, how a
// cookie's secret is compared with the stored ones, and how a session's auth is made and rotated. A leaf
// (node:crypto and the types only), tested on its own (test/secrets.test.ts).
import { createHash, createHmac, hash, randomBytes } from 'node:crypto'
import type { SessionAuth } from '../types/index.js'

const ID_BYTES = 16
const SECRET_BYTES = 32
const POOL_BYTES = 4096
let pool = Buffer.alloc(0)
let offset = 0

/** Bytes from the CSPRNG, drawn from a pool filled 4 KiB at a time; no byte is used twice. */
function random (bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES)
    offset = 0
  }
  const text = pool.toString('base64url', offset, offset + bytes)
  pool.fill(0, offset, offset + bytes)
  offset += bytes
  return text
}

/** A session id: 128 random bits (22 characters). A lookup key, not a credential. */
export function newId (): string {
  return random(ID_BYTES)
}

/** A session secret: 256 random bits (43 characters). Only its hash is ever stored. */
export function newSecret (): string {
  return random(SECRET_BYTES)
}

/** What the store keeps of a secret: a leaked store dump cannot be replayed as cookies. */
export function hashSecret (secret: string): string {
  return hash('sha256', secret, 'base64url') // one-shot: 3× faster than a Hash object
}

/** constant time for hashes of one length, without allocating on every request (as timingSafeEqual's Buffers would) */
export function sameHash (a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** 'current', 'replaced' (still in its grace window) or null: the secret does not open this session. */
export function secretStatus (auth: SessionAuth, hash: string, now: number): 'current' | 'replaced' | null {
  let status: 'current' | 'replaced' | null = null
  // every entry is compared, so the time taken does not say which one matched
  for (const current of auth.current) if (sameHash(current, hash)) status = 'current'
  for (const [replaced, until] of auth.replaced) if (until > now && sameHash(replaced, hash) && status === null) status = 'replaced'
  return status
}

/** The auth of a session created now; `rotateAt` undefined when rotation is off. */
export function initialAuth (secret: string, rotateAt: number | undefined): SessionAuth {
  return rotateAt === undefined ? { current: [hashSecret(secret)], replaced: [] } : { current: [hashSecret(secret)], replaced: [], rotateAt }
}

/** how far ahead a rotation is attempted: another server whose clock is ahead may already have rotated */
export const CLOCK_SKEW = 5_000
/** bounds on the secrets a record keeps */
export const MAX_CURRENT = 8
export const MAX_REPLACED = 32

/** the session's secrets are due for rotation (or about to be, on a server whose clock is ahead) */
export function rotationDue (auth: SessionAuth, now: number): boolean {
  return (auth.rotateAt ?? 0) <= now + CLOCK_SKEW
}

/**
 * The auth after a rotation that adds the secret hashing to `fresh`. Due: every current secret is
 * replaced and works for `grace` more, and the next rotation is `interval` away. Not due (the request's
 * secret was a replaced one: its client missed the rotation response): `fresh` joins the current ones.
 * Replaced secrets past their grace are dropped; at most MAX_CURRENT current and MAX_REPLACED replaced.
 */
export function rotatedAuth (read: SessionAuth, fresh: string, now: number, grace: number, interval: number): SessionAuth {
  const inGrace = read.replaced.filter(([, until]) => until > now)
  if (rotationDue(read, now)) {
    return {
      current: [fresh],
      replaced: [...read.current.map((hash): [string, number] => [hash, now + grace]), ...inGrace].slice(0, MAX_REPLACED),
      rotateAt: now + interval
    }
  }
  return { current: [fresh, ...read.current].slice(0, MAX_CURRENT), replaced: inGrace, ...(read.rotateAt === undefined ? {} : { rotateAt: read.rotateAt }) }
}

const LEGACY_ID_TAG = 'fastify-zod-session/legacy-id\0'
const TOMBSTONE_TAG = 'fastify-zod-session/legacy-tombstone\0'
const LEGACY_SECRET_TAG = 'fastify-zod-session/legacy-secret\0'

/** the id of the session imported from @fastify/session's `oldId`: 128 bits, like newId(); a lookup key, not a credential */
export function legacySessionId (oldId: string): string {
  return createHash('sha256').update(LEGACY_ID_TAG).update(oldId).digest().toString('base64url', 0, 16)
}

/** where the tombstone of the session imported from `oldId` lives */
export function legacyTombstoneId (oldId: string): string {
  return createHash('sha256').update(TOMBSTONE_TAG).update(oldId).digest().toString('base64url', 0, 16)
}

/** the imported session's first secret: 256 bits nobody can compute without the app's secret */
export function legacySecret (appSecret: string, oldId: string): string {
  return createHmac('sha256', appSecret).update(LEGACY_SECRET_TAG).update(oldId).digest('base64url')
}
