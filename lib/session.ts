import type { Duration } from '../types/index.js'
import { errorCodes } from './errors.js'
import { invalidData, validateKey, type SessionSchema } from './schema.js'
import { isReservedKey } from './json-value.js'
import { toMs } from './duration.js'
import type { SessionCookie } from './cookie.js'
import { SessionCookieView, type CookieHost } from './cookie-view.js'
import { detectNested, ensureId, hasWrites, markAssigned, markSet, markCleared, markUnset, markUpdated, replayable, snapshot, touchRequested, type SessionState } from './state.js'

/** what request.session needs of the plugin: its lifecycle calls (lib/manager.ts implements it) */
export interface SessionHost extends CookieHost {
  readonly schema: SessionSchema
  readonly cookie: Pick<SessionCookie, 'value'>
  emptyData: () => Record<string, unknown>
  regenerate: (state: SessionState, keep?: readonly string[]) => void
  destroy: (state: SessionState) => Promise<void>
  persist: (state: SessionState) => Promise<void>
  reload: (state: SessionState) => Promise<void>
}

type Callback = (err?: Error | null) => void

async function attempt (work: () => void): Promise<void> { work() }

export type { SessionState }

export const kState = Symbol('fastify-zod-session.state')
export const kManager = Symbol('fastify-zod-session.manager')
const kDataView = Symbol('fastify-zod-session.data-view')
const kCookieView = Symbol('fastify-zod-session.cookie-view')

function isObject (value: unknown): value is object {
  return value !== null && typeof value === 'object'
}

function withCallback (promise: Promise<void>, callback?: Callback): Promise<void> {
  if (typeof callback !== 'function') return promise
  promise.then(() => { callback(null) }, callback)
  // the callback form reports errors through the callback; the returned promise must not reject unhandled
  return promise.catch(() => {})
}

/** request.session: the typed session data and its lifecycle. */
export class Session<D extends Record<string, any> = Record<string, any>> {
  /** @internal */ [kState]: SessionState
  /** @internal */ [kManager]: SessionHost
  /** @internal the live data object handed out by `data`, and the data it wraps */
  [kDataView]: { target: Record<string, unknown>, proxy: unknown } | null
  /** @internal */
  [kCookieView]: SessionCookieView | null

  /** @internal */
  constructor (manager: SessionHost, state: SessionState) {
    this[kManager] = manager
    this[kState] = state
    this[kDataView] = null
    this[kCookieView] = null
  }

  /** the session id: a lookup key, stable across secret rotation; not a credential (the cookie's secret is) */
  get id (): string {
    return ensureId(this[kState])
  }

  /** @fastify/session's name for id */
  get sessionId (): string {
    return this.id
  }

  get isNew (): boolean { return !this[kState].stored }
  get createdAt (): Date { return new Date(this[kState].createdAt) }
  get expiresAt (): Date | null {
    const at = this[kState].expiresAt
    return at === null ? null : new Date(at)
  }

  /** client IP recorded when the session was created */
  get ip (): string { return this[kState].meta.ip ?? this[kState].ip }
  get userAgent (): string | undefined { return this[kState].meta.userAgent ?? this[kState].userAgent }
  /** the last request that wrote this session, before this one */
  get lastAccess (): { at: Date, ip: string | undefined } | null {
    const meta = this[kState].meta
    return meta.lastAccessAt === undefined ? null : { at: new Date(meta.lastAccessAt), ip: meta.lastAccessIp }
  }

  /** when this session was last regenerated (the login moment), or null if it never was */
  get authenticatedAt (): Date | null {
    const at = this[kState].meta.authenticatedAt
    return at === undefined ? null : new Date(at)
  }

  /**
   * Whether the login (the last regenerate()) happened within `maxAge` (seconds, or '5m'): ask for the
   * password again before an account change when it did not. Pair it with your own logged-in check.
   */
  isFresh (maxAge: Duration): boolean {
    const ms = toMs(maxAge)
    if (ms === undefined) throw new errorCodes.FST_SESSION_INVALID_OPTIONS('isFresh(maxAge)', `${String(maxAge)} is not a duration`)
    const at = this[kState].meta.authenticatedAt
    return at !== undefined && Date.now() - at <= ms
  }

  get<K extends keyof D & string> (key: K): D[K] {
    return expose(this[kState], key) as D[K]
  }

  /** validates the value against the key's schema now; throws FST_SESSION_INVALID_DATA */
  set<K extends keyof D & string> (key: K, value: D[K]): void {
    const state = this[kState]
    const result = validateKey(this[kManager].schema, state.data, key, value)
    if (!result.ok) throw invalidData(result)
    markSet(state, key, result.value, result.fresh)
  }

  /**
   * A read-modify-write of one key that never loses a concurrent change: `fn(current)` gives the new
   * value now (returned, validated like set()), and when another request wrote the session before this
   * one saves, the save applies `fn` again to the value stored then, retrying a conditional write
   * (FST_SESSION_CONFLICT after 25 attempts). `fn` must be synchronous and may run more than once.
   */
  update<K extends keyof D & string> (key: K, fn: (current: D[K]) => D[K]): D[K] {
    if (typeof fn !== 'function') throw new TypeError('session.update(key, fn): fn must be a function')
    // a key from a request body must not hand fn an inherited value (Object.prototype for '__proto__')
    if (isReservedKey(key)) throw reservedKey(key)
    const state = this[kState]
    const replay = replayable(state, key) // asked first: fn may change the value in place
    const next: unknown = fn((Object.hasOwn(state.data, key) ? state.data[key] : undefined) as D[K])
    if (typeof (next as PromiseLike<unknown> | null)?.then === 'function') {
      throw new errorCodes.FST_SESSION_UNSUPPORTED(`session.update('${key}', fn): fn returned a promise; it must be synchronous (it may run again at save)`)
    }
    const result = validateKey(this[kManager].schema, state.data, key, next)
    if (!result.ok) throw invalidData(result)
    markUpdated(state, key, result.value, fn, result.fresh, replay)
    return result.value as D[K]
  }

  unset<K extends keyof D & string> (key: K): void {
    const state = this[kState]
    if (!Object.hasOwn(state.data, key)) return
    markUnset(state, key)
  }

  has<K extends keyof D & string> (key: K): boolean {
    return Object.hasOwn(this[kState].data, key) && this[kState].data[key] !== undefined
  }

  /** the data as a live object: assignments, deletions and nested mutations are all saved */
  get data (): D {
    const target = this[kState].data
    const view = this[kDataView]
    if (view !== null && view.target === target) return view.proxy as D
    const session = this
    const proxy = new Proxy(target, {
      get (target, key, receiver) {
        return typeof key === 'string' && Object.hasOwn(target, key) ? expose(session[kState], key) : Reflect.get(target, key, receiver)
      },
      set (target, key, value) {
        // `data.__proto__ = x` would set the data's prototype: refused now, as set() refuses the key
        if (typeof key === 'string' && isReservedKey(key)) throw reservedKey(key)
        markAssigned(session[kState], key, value)
        return true
      },
      defineProperty (target, key, descriptor) {
        if (typeof key === 'string' && isReservedKey(key)) throw reservedKey(key)
        return Reflect.defineProperty(target, key, descriptor)
      },
      setPrototypeOf () {
        throw reservedKey('__proto__')
      },
      deleteProperty (_target, key) {
        if (typeof key === 'string') session.unset(key)
        return true
      }
    }) as D
    this[kDataView] = { target, proxy }
    return proxy
  }

  /** removes every key (defaults of the schema come back) */
  clear (): void {
    markCleared(this[kState], this[kManager].emptyData())
  }

  /**
   * Call it on login (session fixation): a new id and secret, a new creation time (the absolute
   * timeout counts from here), and empty data (the schema's defaults) or only the listed keys.
   * The old session is deleted when the response is sent, unless it is a server error.
   */
  regenerate (keep?: ReadonlyArray<keyof D & string> | Callback, callback?: Callback): Promise<void> {
    if (typeof keep === 'function') return this.regenerate(undefined, keep)
    return withCallback(attempt(() => this[kManager].regenerate(this[kState], keep)), callback)
  }

  /** deletes the session from the store now and clears the cookie; later writes start a new session */
  destroy (callback?: Callback): Promise<void> {
    return withCallback(this[kManager].destroy(this[kState]), callback)
  }

  /**
   * Gives this session its own idle timeout ("remember me"), persisted with it; with `regenerate`,
   * also a new id and secret, the data and deadlines kept.
   */
  async refresh (options: { idleTimeout?: Duration | null, absoluteTimeout?: Duration | null, regenerate?: boolean } = {}): Promise<void> {
    this[kManager].refresh(this[kState], options, options.regenerate === true)
  }

  /** persists now what onSend would persist */
  save (callback?: Callback): Promise<void> {
    return withCallback(this[kManager].persist(this[kState]), callback)
  }

  /** reads the session again from the store, dropping unsaved changes */
  reload (callback?: Callback): Promise<void> {
    return withCallback(this[kManager].reload(this[kState]), callback)
  }

  /** extends the expiry on this response even if touchAfter has not passed */
  touch (): void {
    touchRequested(this[kState])
  }

  /** @fastify/session's cookie: this session's expiry and attributes; writing them changes this session's cookie */
  get cookie (): SessionCookieView {
    this[kCookieView] ??= new SessionCookieView(this[kManager], this[kState])
    return this[kCookieView]
  }

  /** @fastify/session's per-request cookie options (attributes, maxAge in ms, expires) */
  options (cookieOptions: Record<string, unknown>): void {
    this.cookie.apply(cookieOptions)
  }

  /** the signed cookie value (`<id>.<secret>` signed), as @fastify/session's encryptedSessionId; a new session gets its id now */
  get encryptedSessionId (): string {
    const state = this[kState]
    ensureId(state)
    return this[kManager].cookie.value(state.id as string, state.secret as string)
  }

  /** something was changed that onSend would save */
  isModified (): boolean {
    const state = this[kState]
    detectNested(state)
    return hasWrites(state)
  }

  /** the session is in the store as it is now */
  isSaved (): boolean {
    return this[kState].stored && !this.isModified()
  }
}

/** FST_SESSION_INVALID_DATA (400) for a write of `__proto__`, `constructor` or `prototype` */
export function reservedKey (key: string): Error {
  return invalidData({ ok: false, why: `"${key}" cannot be a session key (it names the prototype machinery of an object)`, client: true })
}

/** a value handed out: objects are snapshotted so that a nested mutation is seen at save. Own keys only: never what the data object inherits. */
function expose (state: SessionState, key: string): unknown {
  if (!Object.hasOwn(state.data, key)) return undefined
  const value = state.data[key]
  if (isObject(value)) snapshot(state, key, value)
  return value
}
