import type { FastifyBaseLogger } from 'fastify'
import type { SessionMeta } from '../types/index.js'
import { errorCodes } from './errors.js'
import { validateKey } from './schema.js'
import type { SessionManager } from './manager.js'
import { ensureId } from './state.js'

type Callback = (err?: Error | null) => void

/** Everything the manager needs to load and persist a session; not part of the public API. */
export interface SessionState {
  /** the cookie id; created lazily for new sessions */
  id: string | null
  /** the store key: a hash of the id (for a session reached through a rotation pointer, the new one's) */
  key: string | null
  /** store key the cookie id hashes to, when it differs from key (grace window after rotation) */
  cookieKey: string | null
  isNew: boolean
  createdAt: number
  expiresAt: number | null
  meta: SessionMeta
  data: Record<string, unknown>
  changed: Set<string>
  unset: Set<string>
  /** JSON of object values at the moment they were handed out, to detect nested mutation */
  snapshots: Map<string, string> | null
  /** write the whole record with set() rather than patch() */
  full: boolean
  /** meta changed by refresh(): persist it even with no data change */
  metaChanged: boolean
  rotationDue: boolean
  touchDue: boolean
  /** a Set-Cookie is owed: new id, refreshed expiry, or a re-signed cookie */
  sendCookie: boolean
  clearCookie: boolean
  /** store unreachable on load: this session is never saved */
  anonymous: boolean
  /** a valid session cookie came with the request (Vary: Cookie) */
  read: boolean
  log: FastifyBaseLogger
  ip: string
  userAgent: string | undefined
}

export const kState = Symbol('fastify-zod-session.state')
export const kManager = Symbol('fastify-zod-session.manager')

function isObject (value: unknown): value is object {
  return value !== null && typeof value === 'object'
}

function withCallback (promise: Promise<void>, callback?: Callback): Promise<void> | undefined {
  if (typeof callback !== 'function') return promise
  promise.then(() => callback(), callback)
  return undefined
}

/** request.session: the typed session data and its lifecycle. */
export class Session<D extends Record<string, any> = Record<string, any>> {
  /** @internal */ [kState]: SessionState
  /** @internal */ [kManager]: SessionManager
  #proxy: D | null = null

  /** @internal */
  constructor (manager: SessionManager, state: SessionState) {
    this[kManager] = manager
    this[kState] = state
  }

  /** the session id (the cookie's unsigned value) */
  get id (): string {
    return ensureId(this[kState])
  }

  /** @fastify/session's name for id */
  get sessionId (): string {
    return this.id
  }

  get isNew (): boolean { return this[kState].isNew }
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
    state.data[key] = result.value
    this.#markChanged(key)
  }

  unset<K extends keyof D & string> (key: K): void {
    const state = this[kState]
    if (!Object.hasOwn(state.data, key)) return
    delete state.data[key]
    state.changed.delete(key)
    state.snapshots?.delete(key)
    state.unset.add(key)
  }

  has<K extends keyof D & string> (key: K): boolean {
    return Object.hasOwn(this[kState].data, key) && this[kState].data[key] !== undefined
  }

  /** the data as a live object: assignments, deletions and nested mutations are all saved */
  get data (): D {
    if (this.#proxy !== null) return this.#proxy
    const session = this
    this.#proxy = new Proxy(this[kState].data, {
      get (target, key, receiver) {
        return typeof key === 'string' && Object.hasOwn(target, key) ? session.#expose(key) : Reflect.get(target, key, receiver)
      },
      set (target, key, value) {
        target[key as string] = value
        if (typeof key === 'string') session.#markChanged(key)
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
    const state = this[kState]
    state.data = this[kManager].emptyData()
    this.#proxy = null
    state.changed.clear()
    state.unset.clear()
    state.snapshots = null
    state.full = true
  }

  /**
   * A new id for the same data; the old id is dead at once. Call it on login (session fixation).
   * With an array (as @fastify/session), only those keys are kept.
   */
  regenerate (keep?: string[] | Callback, callback?: Callback): Promise<void> | undefined {
    if (typeof keep === 'function') return this.regenerate(undefined, keep)
    const promise = this[kManager].regenerate(this[kState], keep).then(() => { this.#proxy = null })
    return withCallback(promise, callback)
  }

  /** deletes the session from the store and clears the cookie; later writes start a new session */
  destroy (callback?: Callback): Promise<void> | undefined {
    const promise = this[kManager].destroy(this[kState]).then(() => { this.#proxy = null })
    return withCallback(promise, callback)
  }

  /** sets this session's own idle timeout (persisted with it), optionally with a new id */
  async refresh (options: { idleTimeout?: number | string | null, regenerate?: boolean } = {}): Promise<void> {
    this[kManager].refresh(this[kState], options.idleTimeout)
    if (options.regenerate === true) await this.regenerate()
  }

  /** persists now what onSend would persist */
  save (callback?: Callback): Promise<void> | undefined {
    return withCallback(this[kManager].persist(this[kState]), callback)
  }

  /** reads the session again from the store, dropping unsaved changes */
  reload (callback?: Callback): Promise<void> | undefined {
    const promise = this[kManager].reload(this[kState]).then(() => { this.#proxy = null })
    return withCallback(promise, callback)
  }

  /** extends the expiry on this response even if touchAfter has not passed */
  touch (): void {
    this[kState].touchDue = true
  }

  #expose (key: string): unknown {
    const state = this[kState]
    const value = state.data[key]
    if (isObject(value) && !state.changed.has(key)) {
      state.snapshots ??= new Map()
      if (!state.snapshots.has(key)) state.snapshots.set(key, JSON.stringify(value))
    }
    return value
  }

  #markChanged (key: string): void {
    const state = this[kState]
    state.changed.add(key)
    state.unset.delete(key)
    state.snapshots?.delete(key)
  }
}
