// The legacy option (moving from @fastify/session) validated: what reads the old cookies and the old store.
import { createHmac } from 'node:crypto'
import { Signer } from '@fastify/cookie'
import type { CookieSigner, LegacyOptions } from '../types/index.js'
import { errorCodes } from './errors.js'

export interface ResolvedLegacy {
  cookieName: string
  signer: CookieSigner
  store: NonNullable<LegacyOptions['store']>
  deleteAfterImport: boolean
}

export function resolveLegacy (value: unknown): ResolvedLegacy | null {
  if (value === undefined || value === null || value === false) return null
  const fail = (option: string, why: string): never => { throw new errorCodes.FST_SESSION_INVALID_OPTIONS(`legacy.${option}`, why) }
  if (typeof value !== 'object') fail('', 'must be an object like { secret, store }')
  const legacy = value as LegacyOptions
  const signer = oldSigner(legacy, fail)
  if (legacy.store === null || typeof legacy.store?.get !== 'function') fail('store', "must be the old store (connect-redis's RedisStore, fastify-session-redis-store, …): an object with get(sid, callback)")
  const cookieName = legacy.cookieName ?? 'sessionId'
  if (typeof cookieName !== 'string' || cookieName === '') fail('cookieName', 'must be a cookie name')
  return { cookieName, signer, store: legacy.store, deleteAfterImport: legacy.deleteAfterImport === true }
}

/** what verifies @fastify/session's cookies: its signer object, or its secrets under its algorithm (any HMAC: they are old cookies to read, not ours) */
function oldSigner (legacy: LegacyOptions, fail: (option: string, why: string) => never): CookieSigner {
  const secret = legacy.secret as unknown
  if (secret !== null && typeof secret === 'object' && !Array.isArray(secret)) {
    const s = secret as Partial<CookieSigner>
    if (typeof s.sign !== 'function' || typeof s.unsign !== 'function') fail('secret', "a signer object needs sign() and unsign(), as @fastify/cookie's Signer has")
    if (legacy.algorithm !== undefined) fail('algorithm', 'applies to string secrets; a signer object signs with its own algorithm')
    return secret as CookieSigner
  }
  const secrets = Array.isArray(secret) ? secret : [secret]
  if (secrets.length === 0 || secrets.some(s => typeof s !== 'string' || s.length === 0)) fail('secret', "is required: @fastify/session's secret (or its array, or its signer object)")
  const algorithm = legacy.algorithm ?? 'sha256'
  try {
    createHmac(algorithm, 'probe')
  } catch {
    fail('algorithm', `${JSON.stringify(algorithm)} is not a hash this Node.js can use for an HMAC`)
  }
  return new Signer(secrets as string[], algorithm)
}
