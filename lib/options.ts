import type { FastifyRequest } from 'fastify'
import type { CookieSigner, Duration, FastifyZodSessionOptions, SessionStore, BindOptions, MigrateFunction, SessionCookieOptions, SessionEventHandlers, SessionEventName } from '../types/index.js'
import { EVENT_NAMES, SessionEvents } from './events.js'
import { errorCodes } from './errors.js'
import { toMs } from './duration.js'
import { resolveLegacy, type ResolvedLegacy } from './legacy-options.js'
import { derivationKeys, signer } from './signer-options.js'
import { resolveEncryption, type KeyRing } from './key-ring.js'
import { MemoryStore } from '../stores/memory.js'
import type { SessionSchema } from './schema.js'
import { describeIssues, invalidData, storableData } from './schema.js'
import { dataRefusal, keyRefusal, stringRefusal } from './json-value.js'
import { isPlainObject } from '../stores/kit/json-tree.js'
import { parseStoreUrl, StoreUrlError, redactUrl, type StoreUrl } from '../stores/url/parse.js'

export type { ResolvedLegacy }

/** Every default, as the `@default` tags of types/index.ts give them (test/readme.test.ts holds the README to the same). */
export const DEFAULTS = {
  cookieName: 'session_id',
  cookie: { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' },
  idleTimeout: '15m',
  absoluteTimeout: '12h',
  rotationInterval: '4m',
  rotationGrace: '30s',
  touchAfter: '1m',
  saveUninitialized: false,
  onInvalidData: 'reset',
  onStoreError: 'fail',
  pruneInterval: '10m',
  maxDataBytes: 64 * 1024,
  storeTimeout: '3s'
} as const

/** options.maxSessionsPerOwner */
export interface OwnerLimitOptions {
  limit: number
  /** evictOldest: the oldest logins go; evictIdlest: the longest unused go; refuse: the new login gets FST_SESSION_LIMIT (409) */
  policy: 'evictOldest' | 'evictIdlest' | 'refuse'
}

/** session.refresh()'s lifetimes (and session.cookie.maxAge's): null = none */
export interface RefreshOptions {
  idleTimeout?: Duration | null
  absoluteTimeout?: Duration | null
}

/** options.idGenerator: called with the request, as @fastify/session calls it */
export type IdGenerator = (request: FastifyRequest) => unknown

/** Options after validation: durations in ms, defaults applied. */
export interface ResolvedOptions<Store = SessionStore> {
  signer: CookieSigner
  /**
   * keys of the app's own derivations (the legacy import's secrets), newest first: the string secrets,
   * or for a signer object what it signs for a fixed tag
   */
  secrets: string[]
  idGenerator: IdGenerator | null
  schema: SessionSchema
  store: Store
  cookieName: string
  cookie: Required<Pick<SessionCookieOptions, 'path' | 'httpOnly' | 'sameSite' | 'secure'>> & Pick<SessionCookieOptions, 'domain' | 'partitioned'>
  idleTimeout: number | null
  absoluteTimeout: number | null
  rotationInterval: number | null
  rotationGrace: number
  touchAfter: number
  saveUninitialized: boolean
  bind: Required<BindOptions> | null
  onInvalidData: 'reset' | 'error' | MigrateFunction
  onStoreError: 'fail' | 'anonymous'
  pruneInterval: number | null
  owner: ((data: any) => string | undefined | null) | null
  maxDataBytes: number | null
  storeTimeout: number | null
  legacy: ResolvedLegacy | null
  events: SessionEvents
  maxSessionsPerOwner: OwnerLimitOptions | null
  /** the key ring of encryption at rest; null = off */
  encryption: KeyRing | null
  /** with encryption: whether a session read at a version holds values under an older key (set by the plugin) */
  resealDue: ((id: string, version: number) => boolean) | null
}

const STORE_METHODS = ['get', 'set', 'patch', 'rotate', 'touch', 'destroy'] as const
export const KNOWN_OPTIONS: ReadonlySet<string> = new Set(['secret', 'schema', 'store', 'cookieName', 'cookie', 'idleTimeout', 'absoluteTimeout',
  'rotationInterval', 'rotationGrace', 'touchAfter', 'saveUninitialized', 'bind', 'onInvalidData',
  'onStoreError', 'pruneInterval', 'owner', 'maxDataBytes', 'storeTimeout', 'legacy', 'rolling', 'events', 'maxSessionsPerOwner',
  'idGenerator', 'algorithm', 'encryption'])
const COOKIE_KEYS = new Set(['path', 'domain', 'httpOnly', 'sameSite', 'secure', 'partitioned'])
/** @fastify/session cookie options that mean something else here: the option to use instead */
const COOKIE_REPLACED: Record<string, string> = {
  maxAge: "the session's lifetime is idleTimeout (sliding) and absoluteTimeout; the cookie's Max-Age follows them",
  expires: 'the cookie expires with the session: set idleTimeout / absoluteTimeout',
  signed: 'the cookie is always signed with `secret`',
  priority: 'is not supported',
  encode: 'is not supported: the cookie value is always base64url'
}
/** what `cookie` (npm) accepts in Domain and Path: anything else makes every Set-Cookie throw */
const DOMAIN_RE = /^([.]?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)([.][a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i
const PATH_RE = /^[\u0020-\u003A\u003D-\u007E]*$/
/** setInterval/setTimeout clamp larger delays to 1 ms */
const MAX_TIMER_MS = 2 ** 31 - 1
const COOKIE_NAME_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

function fail (option: string, why: string): never {
  throw new errorCodes.FST_SESSION_INVALID_OPTIONS(option, why)
}

function duration (opts: Record<string, unknown>, name: string, fallback: string, nullable: boolean): number | null {
  const value = opts[name] === undefined ? fallback : opts[name]
  if (value === null) {
    if (nullable) return null
    fail(name, 'must not be null')
  }
  const ms = toMs(value)
  if (ms === undefined) fail(name, `${JSON.stringify(value)} is not a duration (seconds, or a string like '30s', '15m', '4h', '7d')`)
  return ms
}

function idGenerator (value: unknown): IdGenerator | null {
  if (value === undefined || value === null) return null
  if (typeof value !== 'function') fail('idGenerator', 'must be a function (request) => string giving a new session id')
  return value as IdGenerator
}

function schema (value: unknown): SessionSchema {
  const s = value as SessionSchema
  if (s === null || typeof s !== 'object' || typeof s.safeParse !== 'function') fail('schema', 'must be a zod schema')
  const result = s.safeParse({})
  if (!result.success) fail('schema', `must accept an empty object (make fields optional or give them defaults): ${describeIssues(result.error)}`)
  const empty: unknown = result.data
  if (empty === null || typeof empty !== 'object' || !isPlainObject(empty)) fail('schema', 'must give a plain object for {} (session data is an object of keys)')
  const problem = storableData(s, empty as Record<string, unknown>) ?? dataRefusal(empty as Record<string, unknown>)
  if (problem !== undefined) fail('schema', `its defaults cannot be stored: ${problem}`)
  const shape = s._zod?.def.shape
  for (const key of shape === undefined ? [] : Object.keys(shape)) {
    const refused = keyRefusal(key)
    if (refused !== undefined) fail('schema', `${refused}; set() would refuse it on every store`)
  }
  return s
}

/**
 * The owner function, its answer checked: an owner is stored in an indexed column or field, so one
 * holding NUL or a lone surrogate (which PostgreSQL refuses and MongoDB and MySQL mangle) is refused
 * like data no store can carry (FST_SESSION_INVALID_DATA, 400), on every store, and nothing is saved.
 */
function owner (fn: ResolvedOptions['owner'] | undefined): ResolvedOptions['owner'] {
  if (fn === undefined || fn === null) return null
  return (data) => {
    const value = fn(data)
    const refused = typeof value === 'string' ? stringRefusal(value) : undefined
    if (refused !== undefined) throw invalidData({ ok: false, why: `the session's owner holds ${refused}`, client: true })
    return value
  }
}

function store (value: unknown): SessionStore | StoreUrl {
  if (value === undefined) return new MemoryStore()
  if (typeof value === 'string') {
    try {
      return parseStoreUrl(value)
    } catch (err) {
      if (err instanceof StoreUrlError) fail('store', `${redactUrl(value)}: ${err.message}`)
      throw err
    }
  }
  const s = value as Record<string, unknown>
  if (s === null || typeof s !== 'object') fail('store', 'must be a SessionStore object or a storage URL')
  const missing = STORE_METHODS.filter(m => typeof s[m] !== 'function')
  if (missing.length > 0) fail('store', `is not a SessionStore: missing ${missing.map(m => m + '()').join(', ')}`)
  return value as SessionStore
}

function cookie (value: unknown): ResolvedOptions['cookie'] {
  if (value !== undefined && (value === null || typeof value !== 'object')) fail('cookie', 'must be an object')
  const c = (value ?? {}) as SessionCookieOptions
  for (const key of Object.keys(c)) {
    if (Object.hasOwn(COOKIE_REPLACED, key)) fail(`cookie.${key}`, COOKIE_REPLACED[key])
    if (!COOKIE_KEYS.has(key)) fail(`cookie.${key}`, `is not a cookie option (known: ${[...COOKIE_KEYS].join(', ')})`)
  }
  const d = DEFAULTS.cookie
  const resolved = { path: c.path ?? d.path, httpOnly: c.httpOnly ?? d.httpOnly, sameSite: c.sameSite ?? d.sameSite, secure: c.secure ?? d.secure, domain: c.domain, partitioned: c.partitioned }
  if (typeof resolved.path !== 'string' || !resolved.path.startsWith('/')) fail('cookie.path', 'must be a string starting with /')
  if (!PATH_RE.test(resolved.path)) fail('cookie.path', `${JSON.stringify(resolved.path)} has characters a cookie path cannot carry (controls, ';' or non-ASCII): percent-encode them`)
  if (resolved.domain !== undefined && (typeof resolved.domain !== 'string' || !DOMAIN_RE.test(resolved.domain))) fail('cookie.domain', `${JSON.stringify(resolved.domain)} is not a domain name like 'example.com'`)
  if (typeof resolved.httpOnly !== 'boolean') fail('cookie.httpOnly', 'must be a boolean')
  if (resolved.partitioned !== undefined && typeof resolved.partitioned !== 'boolean') fail('cookie.partitioned', 'must be a boolean')
  if (!['lax', 'strict', 'none', true, false].includes(resolved.sameSite)) fail('cookie.sameSite', "must be 'lax', 'strict', 'none' or a boolean")
  if (resolved.secure !== 'auto' && typeof resolved.secure !== 'boolean') fail('cookie.secure', "must be a boolean or 'auto'")
  // with 'auto', a plain-http request gets SameSite=Lax instead (as @fastify/session does): browsers drop None without Secure
  if (resolved.sameSite === 'none' && resolved.secure === false) {
    fail('cookie.sameSite', "'none' requires secure: true or 'auto' (browsers drop SameSite=None cookies without Secure)")
  }
  if (resolved.partitioned === true && resolved.secure !== true) fail('cookie.partitioned', 'requires secure: true')
  return resolved
}

function eventHandlers (value: unknown): SessionEventHandlers {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('events', `must be an object of handlers, one per event (${EVENT_NAMES.join(', ')})`)
  for (const [name, handler] of Object.entries(value as object)) {
    if (!EVENT_NAMES.includes(name as SessionEventName)) fail(`events.${name}`, `is not an event; the events are ${EVENT_NAMES.join(', ')}`)
    if (typeof handler !== 'function') fail(`events.${name}`, 'must be a function')
  }
  return value as SessionEventHandlers
}

function ownerLimit (value: unknown): OwnerLimitOptions | null {
  if (value === undefined || value === null) return null
  const o = value as Partial<OwnerLimitOptions>
  if (typeof value !== 'object') fail('maxSessionsPerOwner', "must be an object like { limit: 5, policy: 'evictOldest' }")
  if (!Number.isInteger(o.limit) || (o.limit as number) < 1) fail('maxSessionsPerOwner.limit', 'must be a positive integer')
  if (!['evictOldest', 'evictIdlest', 'refuse'].includes(o.policy as string)) fail('maxSessionsPerOwner.policy', "must be 'evictOldest', 'evictIdlest' or 'refuse'")
  return { limit: o.limit as number, policy: o.policy as OwnerLimitOptions['policy'] }
}

function bind (value: unknown): Required<BindOptions> | null {
  if (value === undefined || value === null || value === false) return null
  if (typeof value !== 'object') fail('bind', 'must be an object like { ip: true, userAgent: true }')
  const b = value as BindOptions
  if (b.ip !== undefined && b.ip !== true && b.ip !== 'subnet') fail('bind.ip', "must be true or 'subnet'")
  if (b.userAgent !== undefined && b.userAgent !== true) fail('bind.userAgent', 'must be true')
  if (b.onMismatch !== undefined && b.onMismatch !== 'destroy' && b.onMismatch !== 'log') fail('bind.onMismatch', "must be 'destroy' or 'log'")
  if (b.ip === undefined && b.userAgent === undefined) return null
  return { ip: b.ip as true, userAgent: b.userAgent as true, onMismatch: b.onMismatch ?? 'destroy' }
}

function oneOf<T> (opts: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T): T {
  const value = opts[name] === undefined ? fallback : opts[name]
  if (!allowed.includes(value as T)) fail(name, `must be one of ${allowed.map(a => JSON.stringify(a)).join(', ')}`)
  return value as T
}

/** `3600000` → `'1h'`: durations in messages as the user would write them */
export function showDuration (ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0) return `'${ms / size}${unit}'`
  }
  return `${ms / 1000} seconds`
}

/**
 * An idle timeout longer than the absolute one never takes effect: every session would end at the
 * absolute deadline while the app asked for more ("remember me" cut to 12 hours). Refused, naming both.
 */
export function checkLifetimes (idle: number | null, absolute: number | null, idleName: string, absoluteName: string): void {
  if (idle === null || absolute === null || idle <= absolute) return
  fail(idleName, `${showDuration(idle)} is longer than ${absoluteName} (${showDuration(absolute)}): every session would end after ${showDuration(absolute)}. ` +
    `Raise ${absoluteName} to at least ${showDuration(idle)}, or set it to null for no absolute limit`)
}

/** Validates every option; a storage URL is parsed here and opened by the plugin. */
export function resolveOptions (input: FastifyZodSessionOptions | undefined): ResolvedOptions<SessionStore | StoreUrl> {
  const opts = (input ?? {}) as unknown as Record<string, unknown>
  for (const key of Object.keys(opts)) if (!KNOWN_OPTIONS.has(key)) fail(key, 'is not an option of fastify-zod-session')
  const cookieName = opts.cookieName ?? DEFAULTS.cookieName
  if (typeof cookieName !== 'string' || !COOKIE_NAME_RE.test(cookieName)) fail('cookieName', 'must be a valid cookie name')
  const onInvalidData = typeof opts.onInvalidData === 'function'
    ? opts.onInvalidData as MigrateFunction
    : oneOf(opts, 'onInvalidData', ['reset', 'error'] as const, DEFAULTS.onInvalidData)
  if (opts.owner !== undefined && typeof opts.owner !== 'function') fail('owner', 'must be a function of the session data')
  if (opts.saveUninitialized !== undefined && typeof opts.saveUninitialized !== 'boolean') fail('saveUninitialized', 'must be a boolean')
  const maxDataBytes = opts.maxDataBytes === undefined ? DEFAULTS.maxDataBytes : opts.maxDataBytes
  if (maxDataBytes !== null && (typeof maxDataBytes !== 'number' || !(maxDataBytes > 0))) fail('maxDataBytes', 'must be a positive number of bytes or null')

  const resolved: ResolvedOptions<SessionStore | StoreUrl> = {
    signer: signer(opts.secret, opts.algorithm),
    secrets: derivationKeys(opts.secret),
    idGenerator: idGenerator(opts.idGenerator),
    schema: schema(opts.schema),
    store: store(opts.store),
    cookieName,
    cookie: cookie(opts.cookie),
    idleTimeout: duration(opts, 'idleTimeout', DEFAULTS.idleTimeout, true),
    absoluteTimeout: duration(opts, 'absoluteTimeout', DEFAULTS.absoluteTimeout, true),
    rotationInterval: duration(opts, 'rotationInterval', DEFAULTS.rotationInterval, true),
    rotationGrace: duration(opts, 'rotationGrace', DEFAULTS.rotationGrace, false) as number,
    touchAfter: duration(opts, 'touchAfter', DEFAULTS.touchAfter, false) as number,
    saveUninitialized: (opts.saveUninitialized as boolean | undefined) ?? DEFAULTS.saveUninitialized,
    bind: bind(opts.bind),
    onInvalidData,
    onStoreError: oneOf(opts, 'onStoreError', ['fail', 'anonymous'] as const, DEFAULTS.onStoreError),
    pruneInterval: duration(opts, 'pruneInterval', DEFAULTS.pruneInterval, true),
    owner: owner(opts.owner as ResolvedOptions['owner'] | undefined),
    maxDataBytes: maxDataBytes as number | null,
    storeTimeout: duration(opts, 'storeTimeout', DEFAULTS.storeTimeout, true),
    legacy: resolveLegacy(opts.legacy),
    events: new SessionEvents(eventHandlers(opts.events)),
    maxSessionsPerOwner: ownerLimit(opts.maxSessionsPerOwner),
    encryption: resolveEncryption(opts.encryption),
    resealDue: null
  }
  if (resolved.maxSessionsPerOwner !== null && resolved.owner === null) fail('maxSessionsPerOwner', 'needs the `owner` option (a function of the session data naming its user)')
  if (opts.rolling !== undefined && opts.rolling !== true) {
    fail('rolling', 'sessions always slide (each request extends the idle timeout, written at most every touchAfter); for a fixed lifetime set absoluteTimeout')
  }
  if (resolved.idleTimeout === 0) fail('idleTimeout', 'must be greater than 0 (or null for none)')
  if (resolved.absoluteTimeout === 0) fail('absoluteTimeout', 'must be greater than 0 (or null for none)')
  if (resolved.rotationInterval === 0) fail('rotationInterval', 'must be greater than 0 (or null for off)')
  if (resolved.pruneInterval === 0) fail('pruneInterval', 'must be greater than 0 (or null for off)')
  if (resolved.storeTimeout === 0) fail('storeTimeout', 'must be greater than 0 (or null for none)')
  checkLifetimes(resolved.idleTimeout, resolved.absoluteTimeout, 'idleTimeout', 'absoluteTimeout')
  for (const name of ['pruneInterval', 'storeTimeout'] as const) {
    if ((resolved[name] ?? 0) > MAX_TIMER_MS) fail(name, 'must be at most 24 days (Node timers cannot wait longer)')
  }
  return resolved
}
