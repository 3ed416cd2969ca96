// The secret and algorithm options validated: the cookie's signer, and the keys of the app's own derivations.
import { createHmac } from 'node:crypto'
import { Signer } from '@fastify/cookie'
import type { CookieSigner } from '../types/index.js'
import { hmacSigner } from './hmac-signer.js'
import { errorCodes } from './errors.js'

const MIN_SECRET = 32

function fail (option: string, why: string): never {
  throw new errorCodes.FST_SESSION_INVALID_OPTIONS(option, why)
}

function secrets (value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) fail('secret', 'is required')
  for (const s of list) {
    if (typeof s !== 'string') fail('secret', value === undefined ? 'is required' : 'must be a string, an array of strings, or a signer object with sign() and unsign() (a Buffer is not accepted)')
    if (s.length < MIN_SECRET) fail('secret', `must be at least ${MIN_SECRET} characters (got ${s.length})`)
  }
  return list
}

/** HMAC digests shorter than this are refused: a 128-bit MAC (md5) is too short for a credential */
const MIN_DIGEST_BYTES = 32

function algorithm (value: unknown): string {
  if (value === undefined) return 'sha256'
  if (typeof value !== 'string') fail('algorithm', "must be the name of a hash, such as 'sha256' or 'sha512'")
  let bytes: number
  try {
    bytes = createHmac(value, 'probe').digest().length
  } catch {
    fail('algorithm', `${JSON.stringify(value)} is not a hash this Node.js can use for an HMAC`)
  }
  if (bytes < MIN_DIGEST_BYTES) fail('algorithm', `${value} gives a ${bytes * 8}-bit signature: use one of at least 256 bits ('sha256', 'sha512')`)
  return value
}

/**
 * The cookie's signer: over the secrets, ours (lib/hmac-signer.ts) for sha256/384/512, else
 * @fastify/cookie's Signer (the same format); or the app's own object with sign()
 * and unsign() (as @fastify/session accepts), checked once here to give back what it signed.
 */
export function signer (secret: unknown, algo: unknown): CookieSigner {
  const s = secret as Partial<CookieSigner> | null
  if (s === null || typeof s !== 'object' || Array.isArray(s) || Buffer.isBuffer(s)) {
    // a copy: the secrets are read once, at registration, whichever signer takes them
    const list = [...secrets(secret)]
    const name = algorithm(algo)
    return hmacSigner(list, name) ?? new Signer(list, name)
  }
  if (typeof s.sign !== 'function' || typeof s.unsign !== 'function') fail('secret', 'a signer object needs sign() and unsign() (as @fastify/cookie\'s Signer has)')
  if (algo !== undefined) fail('algorithm', 'applies to string secrets; a signer object signs with its own algorithm')
  const probe = 'fastify-zod-session.probe'
  let back: ReturnType<CookieSigner['unsign']> | undefined
  try {
    const signed = s.sign(probe)
    back = typeof signed === 'string' ? s.unsign(signed) : undefined
  } catch (err) {
    fail('secret', `the signer object threw: ${(err as Error)?.message ?? String(err)}`)
  }
  if (back?.valid !== true || back.value !== probe) fail('secret', 'the signer object must give back what it signed: unsign(sign(value)) → { valid: true, renew, value }')
  return s as CookieSigner
}

export function derivationKeys (secret: unknown): string[] {
  if (typeof secret === 'string' || Array.isArray(secret)) return secrets(secret)
  return [(secret as CookieSigner).sign('fastify-zod-session derivation key')]
}
