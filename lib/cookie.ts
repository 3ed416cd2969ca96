import type { SerializeOptions } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { CookieSigner, SessionCookieOptions } from '../types/index.js'
import { errorCodes } from './errors.js'
import { hashSecret } from './secrets.js'

/** the attributes a request may override for its own Set-Cookie (session.cookie, session.options()) */
export type CookieOverrides = Partial<Pick<SessionCookieOptions, 'path' | 'domain' | 'secure' | 'httpOnly' | 'sameSite' | 'partitioned'>>

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
  const header = request.headers?.cookie // decryptSession() takes bare objects as requests
  return header === undefined ? undefined : parse(header)[name]
}

/**
 * A session id: ours are 22 characters (128 bits, base64url); an `idGenerator`'s may be 1 to 128 of
 * the same characters (a UUID, a nanoid, `custom-<n>`). No '.', the separator from the secret, and
 * nothing a store key or a file name could misread.
 */
export const ID_RE = /^[A-Za-z0-9_-]{1,128}$/
/** `<id>.<secret>`: the id and a 256-bit secret (43 characters, base64url) */
const VALUE_RE = /^[A-Za-z0-9_-]{1,128}\.[A-Za-z0-9_-]{43}$/
const SECRET_CHARS = 43
/** longest signed cookie value verified: a 128-character id, the secret and a SHA-512 signature fit well below */
const MAX_VALUE = 512

/** The id an app's `idGenerator` gave, or FST_SESSION_INVALID_OPTIONS saying what is wrong with it. */
export function generatedId (value: unknown): string {
  if (typeof value === 'string' && ID_RE.test(value)) return value
  const shown = typeof value === 'string' ? JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value) : typeof value
  throw new errorCodes.FST_SESSION_INVALID_OPTIONS('idGenerator', `returned ${shown}: a session id must be a string of 1 to 128 characters A-Z a-z 0-9 _ - (no '.')`)
}

/** the first Expires the serializer refuses (year 10000) */
const YEAR_10000 = Date.UTC(10000, 0, 1)
/** a value `cookie` 2 writes as it is and `cookie` 0.x and 1.x percent-encode (a signature's base64) */
const ENCODING_PROBE = 'a+b/c=d'
/** what `cookie` 2 percent-encodes a value for */
const COOKIE_OCTET_INVALID = /[\u0000-\u0020\u007F-\uFFFF",;\\%]/ // eslint-disable-line no-control-regex

/** SameSite as sent: browsers drop SameSite=None without Secure, so 'none' over plain http is sent as Lax (as @fastify/session does) */
function sentSameSite (sameSite: SessionCookieOptions['sameSite'], secure: boolean | undefined): SessionCookieOptions['sameSite'] {
  return sameSite === 'none' && secure !== true ? 'lax' : sameSite
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
  readonly #signer: CookieSigner
  readonly #options: ResolvedOptions['cookie']
  readonly #name: string
  readonly #serialize: Serialize
  readonly parse: Parse

  /** `codec` is the registered @fastify/cookie's: an app may have loaded another copy than ours, and ours then never loaded its cookie module */
  constructor (options: ResolvedOptions, codec: CookieCodec) {
    this.#serialize = codec.serialize
    this.parse = codec.parse
    this.#signer = options.signer
    this.#options = options.cookie
    this.#name = options.cookieName
    const o = options.cookie
    this.#domainPath = (o.domain === undefined || o.domain === '' ? '' : `; Domain=${o.domain}`) + `; Path=${o.path}`
    const flags = (secure: boolean): string => {
      const sameSite = sentSameSite(o.sameSite, secure)
      const sent = sameSite === true || sameSite === 'strict' ? '; SameSite=Strict' : sameSite === 'lax' ? '; SameSite=Lax' : sameSite === 'none' ? '; SameSite=None' : ''
      return `${o.httpOnly ? '; HttpOnly' : ''}${secure ? '; Secure' : ''}${o.partitioned === true ? '; Partitioned' : ''}${sent}`
    }
    this.#flags = [flags(false), flags(true)]
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
    if (typeof value !== 'string' || value.length > MAX_VALUE) return null
    const cached = this.#verified.get(value)
    if (cached !== undefined) return cached
    let result: ReturnType<CookieSigner['unsign']>
    try {
      result = this.#signer.unsign(value)
    } catch {
      return null // an app's signer object refusing a cookie must not turn it into a 500
    }
    if (result?.valid !== true || typeof result.value !== 'string' || !VALUE_RE.test(result.value)) return null
    const secret = result.value.slice(-SECRET_CHARS)
    const verified = { id: result.value.slice(0, -SECRET_CHARS - 1), secret, hash: hashSecret(secret), renew: result.renew === true }
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
    const value = this.value(id, secret)
    // the serializer refuses a Max-Age past 2^53 and an Expires past the year 9999: it says so
    if (overrides === null && this.#joinedOk !== false && (maxAge === undefined || (Number.isSafeInteger(maxAge) && now + maxAge * 1000 < YEAR_10000))) {
      const secure = this.#options.secure === 'auto' ? request.protocol === 'https' : this.#options.secure
      const joined = this.#joined(value, maxAge, now, secure)
      const shape = (maxAge === undefined ? 1 : 2) << (secure ? 2 : 0)
      if ((this.#joinedShapes & shape) !== 0) return joined
      // each shape once: the same string as the serializer's (and so is a value with characters that
      // some versions encode and others do not), or the serializer from now on
      this.#joinedOk = joined === this.#serialized(request, value, maxAge, now, null) &&
        this.#joined(ENCODING_PROBE, maxAge, now, secure) === this.#serialized(request, ENCODING_PROBE, maxAge, now, null)
      this.#joinedShapes |= shape
      if (this.#joinedOk) return joined
    }
    return this.#serialized(request, value, maxAge, now, overrides)
  }

  #serialized (request: FastifyRequest, value: string, maxAge: number | undefined, now: number, overrides: CookieOverrides | null): string {
    const attributes = this.#attributes(request, maxAge, overrides)
    if (maxAge !== undefined) attributes.expires = new Date(now + maxAge * 1000)
    return this.#serialize(this.#name, value, attributes)
  }

  /** false once a joined Set-Cookie differed from the serializer's; the shapes (Max-Age or not × Secure or not) compared so far */
  #joinedOk: boolean | undefined = undefined
  #joinedShapes = 0
  /** the attributes between Max-Age and Expires, and the flags after them (without and with Secure) */
  readonly #domainPath: string
  readonly #flags: readonly [string, string]
  #expiresSecond = NaN
  #expiresText = ''

  /**
   * The Set-Cookie of the app's own attributes (no per-request overrides), joined from parts made once,
   * in the order `cookie` (npm) writes them: its serializer checks every attribute on every call (3 µs,
   * this 0.7), and the attributes were checked when the options were.
   */
  #joined (value: string, maxAge: number | undefined, now: number, secure: boolean): string {
    const flags = this.#flags[secure ? 1 : 0]
    // as `cookie` 2 encodes a value: only one with characters a cookie cannot carry (a signature's '/' and '+' it can)
    const encoded = COOKIE_OCTET_INVALID.test(value) ? encodeURIComponent(value) : value
    if (maxAge === undefined) return `${this.#name}=${encoded}${this.#domainPath}${flags}`
    const second = Math.floor(now / 1000) + maxAge
    if (second !== this.#expiresSecond) {
      this.#expiresSecond = second
      this.#expiresText = new Date(now + maxAge * 1000).toUTCString()
    }
    return `${this.#name}=${encoded}; Max-Age=${maxAge}${this.#domainPath}; Expires=${this.#expiresText}${flags}`
  }

  /** Set-Cookie value that deletes the cookie (ours, or another name such as an imported @fastify/session cookie). */
  clear (request: FastifyRequest, overrides: CookieOverrides | null = null, name = this.#name): string {
    return this.#serialize(name, '', { ...this.#attributes(request, 0, overrides), expires: new Date(0) })
  }

  #attributes (request: FastifyRequest, maxAge: number | undefined, overrides: CookieOverrides | null): SerializeOptions {
    const o = overrides === null ? this.#options : { ...this.#options, ...overrides }
    const secure = o.secure === 'auto' ? request.protocol === 'https' : o.secure
    return {
      path: o.path,
      domain: o.domain,
      httpOnly: o.httpOnly,
      sameSite: sentSameSite(o.sameSite, secure),
      secure,
      partitioned: o.partitioned,
      maxAge
    }
  }

  /**
   * Requests outside cookie.path never carry the cookie: they get an unsaved session. The rule of
   * @fastify/session (and RFC 6265's path-match): the path itself, or below it at a '/'.
   */
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
