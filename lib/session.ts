import type { Duration } from '../types/index.js'
import { errorCodes } from './errors.js'
import { validateKey } from './schema.js'
import type { SessionManager } from './manager.js'
import { ensureId, markChanged, markSet, markCleared, markUnset, snapshot, type SessionState } from './state.js'

type Callback = (err?: Error | null) => void

async function attempt (work: () => void): Promise<void> { work() }

export type { SessionState }

export const kState = Symbol('fastify-zod-session.state')
export const kManager = Symbol('fastify-zod-session.manager')

function isObject (value: unknown): value is object {
  return value !== null && typeof value === 'object'
}

function withCallback (promise: Promise<void>, callback?: Callback): Promise<void> {
  if (typeof callback !== 'function') return promise
  promise.then(() => callback(), callback)
  // the callback form reports errors through the callback; the returned promise must not reject unhandled
  return promise.catch(() => {})
}

/** request.session: the typed session data and its lifecycle. */
export class Session<D extends Record<string, any> = Record<string, any>> {
  /** @internal */ [kState]: SessionState
  /** @internal */ [kManager]: SessionManager
  #proxy: D | null = null
  #proxyTarget: Record<string, unknown> | null = null

  /** @internal */
  constructor (manager: SessionManager, state: SessionState) {
    this[kManager] = manager
    this[kState] = state
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

  get<K extends keyof D & string> (key: K): D[K] {
    return this.#expose(key) as D[K]
  }

  /** validates the value against the key's schema now; throws FST_SESSION_INVALID_DATA */
  set<K extends keyof D & string> (key: K, value: D[K]): void {
    const state = this[kState]
    const result = validateKey(this[kManager].schema, state.data, key, value)
    if (!result.ok) throw new errorCodes.FST_SESSION_INVALID_DATA(result.why)
    markSet(state, key, result.value)
  }

  unset<K extends keyof D & string> (key: K): void {
    const state = this[kState]
    if (!Object.hasOwn(state.data, key)) return
    delete state.data[key]
    markUnset(state, key)
  }

  has<K extends keyof D & string> (key: K): boolean {
    return Object.hasOwn(this[kState].data, key) && this[kState].data[key] !== undefined
  }

  /** the data as a live object: assignments, deletions and nested mutations are all saved */
  get data (): D {
    const target = this[kState].data
    if (this.#proxy !== null && this.#proxyTarget === target) return this.#proxy
    const session = this
    this.#proxyTarget = target
    this.#proxy = new Proxy(target, {
      get (target, key, receiver) {
        return typeof key === 'string' && Object.hasOwn(target, key) ? session.#expose(key) : Reflect.get(target, key, receiver)
      },
      set (target, key, value) {
        target[key as string] = value
        if (typeof key === 'string') markChanged(session[kState], key)
        return true
      },
      deleteProperty (_target, key) {
        if (typeof key === 'string') session.unset(key)
        return true
      }
    }) as D
    return this.#proxy
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
  async refresh (options: { idleTimeout?: Duration | null, regenerate?: boolean } = {}): Promise<void> {
    this[kManager].refresh(this[kState], options.idleTimeout, options.regenerate === true)
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
    this[kState].touchDue = this[kState].stored
  }

  #expose (key: string): unknown {
    const state = this[kState]
    const value = state.data[key]
    if (isObject(value)) snapshot(state, key, value)
    return value
  }
}
