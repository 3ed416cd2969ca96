import { hash, randomBytes } from 'node:crypto'
import { Signer, type SerializeOptions } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { CookieOverrides } from './cookie-view.js'

/** the registered @fastify/cookie's fastify.serializeCookie */
export type Serialize = (name: string, value: string, options?: SerializeOptions) => string
/** its fastify.parseCookie */
export type Parse = (header: string) => Record<string, string | undefined>

/** @fastify/cookie's serializer and parser, as the plugin found or made them (lib/plugin.ts) */
export interface CookieCodec { serialize: Serialize, parse: Parse }

/**
 * A request's cookie by name: from request.cookies when an app-level @fastify/cookie already parsed
 * them, else from the header (no @fastify/cookie at the app's level, one registered after this plugin
 * whose hook runs after ours, or one with `hook: false`).
 */
export function requestCookie (request: FastifyRequest, name: string, parse: Parse): string | undefined {
  const parsed = request.cookies
  if (parsed != null) return parsed[name]
  const header = request.headers.cookie
  return header === undefined ? undefined : parse(header)[name]
}

/** `<id>.<secret>`: a 128-bit lookup id and a 256-bit secret, base64url */
const VALUE_RE = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/

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

/** A session id: 128 random bits. A lookup key, not a credential. */
export function newId (): string {
  return random(ID_BYTES)
}

/** A session secret: 256 random bits. Only its hash is ever stored. */
export function newSecret (): string {
  return random(SECRET_BYTES)
}

/** What the store keeps of a secret: a leaked store dump cannot be replayed as cookies. */
export function hashSecret (secret: string): string {
  return hash('sha256', secret, 'base64url') // one-shot: 3× faster than a Hash object
}

/** Verified cookie values, so a returning client costs no HMAC and no SHA-256. Only values whose signature verified get in. */
const VERIFIED_CACHE = 10_000

export interface VerifiedCookie {
  id: string
  secret: string
  /** hash of the secret */
  hash: string
  /** signed with an older app secret: re-sign it */
  renew: boolean
}

export class SessionCookie {
  readonly #verified = new Map<string, VerifiedCookie>()
  readonly #signer: Signer
  readonly #options: ResolvedOptions['cookie']
  readonly #name: string
  readonly #serialize: Serialize
  readonly parse: Parse

  /** `codec` is the registered @fastify/cookie's: an app may have loaded another copy than ours, and ours then never loaded its cookie module */
  constructor (options: ResolvedOptions, codec: CookieCodec) {
    this.#serialize = codec.serialize
    this.parse = codec.parse
    this.#signer = new Signer(options.secrets, 'sha256')
    this.#options = options.cookie
    this.#name = options.cookieName
  }

  /** The cookie's id, secret and the secret's hash when the signature verifies. */
  read (request: FastifyRequest): VerifiedCookie | null {
    return this.verify(requestCookie(request, this.#name, this.parse))
  }

  /** The signed cookie value of a session. */
  value (id: string, secret: string): string {
    return this.#signer.sign(`${id}.${secret}`)
  }

  /** The id, secret and secret's hash of a signed cookie value, or null. */
  verify (value: unknown): VerifiedCookie | null {
    if (typeof value !== 'string' || value.length > 200) return null
    const cached = this.#verified.get(value)
    if (cached !== undefined) return cached
    const result = this.#signer.unsign(value)
    if (!result.valid || result.value === null || !VALUE_RE.test(result.value)) return null
    const secret = result.value.slice(23)
    const verified = { id: result.value.slice(0, 22), secret, hash: hashSecret(secret), renew: result.renew }
    if (this.#verified.size >= VERIFIED_CACHE) this.#verified.delete(this.#verified.keys().next().value as string)
    this.#verified.set(value, verified)
    return verified
  }

  /**
   * Set-Cookie value for a session expiring at `expiresAt` (ms), or a browser-session cookie when null.
   * Expires goes beside Max-Age for clients that only know Expires.
   */
  serialize (request: FastifyRequest, id: string, secret: string, expiresAt: number | null, now: number, overrides: CookieOverrides | null = null): string {
    const maxAge = expiresAt === null ? undefined : Math.max(0, Math.ceil((expiresAt - now) / 1000))
    const attributes = this.#attributes(request, maxAge, overrides)
    if (maxAge !== undefined) attributes.expires = new Date(now + maxAge * 1000)
    return this.#serialize(this.#name, this.value(id, secret), attributes)
  }

  /** Set-Cookie value that deletes the cookie (ours, or another name such as an imported @fastify/session cookie). */
  clear (request: FastifyRequest, overrides: CookieOverrides | null = null, name = this.#name): string {
    return this.#serialize(name, '', { ...this.#attributes(request, 0, overrides), expires: new Date(0) })
  }

  #attributes (request: FastifyRequest, maxAge: number | undefined, overrides: CookieOverrides | null): SerializeOptions {
    const o = overrides === null ? this.#options : { ...this.#options, ...overrides }
    return {
      path: o.path,
      domain: o.domain,
      httpOnly: o.httpOnly,
      sameSite: o.sameSite,
      secure: o.secure === 'auto' ? request.protocol === 'https' : o.secure,
      partitioned: o.partitioned,
      maxAge
    }
  }

  /** Requests outside cookie.path never carry the cookie: leave the store alone for them. */
  inPath (url: string): boolean {
    const path = this.#options.path
    if (path === '/' || url === path) return true
    if (!url.startsWith(path)) return false
    const next = url.charCodeAt(path.length)
    return path.endsWith('/') || next === 47 /* / */ || next === 63 /* ? */ || Number.isNaN(next)
  }
}

/** Adds Cookie to the Vary header: responses that depend on the session must not be shared by caches. */
export function addVaryCookie (reply: FastifyReply): void {
  const vary = reply.getHeader('vary')
  if (vary === undefined) {
    reply.header('vary', 'Cookie')
    return
  }
  const current = Array.isArray(vary) ? vary.join(', ') : String(vary)
  if (current.trim() === '*' || /(^|,)\s*cookie\s*(,|$)/i.test(current)) return
  reply.header('vary', `${current}, Cookie`)
}
