// request.sessionStore as @fastify/session's users call it: get/set/destroy by the session id the app
// sees (request.session.sessionId, which is also our store key), with a callback or as a promise. The
// store itself (contract v2 records, conditional writes) is fastify.sessionStore.
import type { FastifyRequest } from 'fastify'
import type { SessionManager } from './manager.js'
import { errorCodes } from './errors.js'
import { invalidData, validateData } from './schema.js'
import { ID_RE } from './cookie.js'
import { callStore } from './store-call.js'
import { markCleared, type SessionState } from './state.js'
import { Session, kState } from './session.js'
import { dataObject, usableRecord } from '../stores/kit/record.js'

/** a session as @fastify/session's store hands it out: the data keys, and `cookie` */
export type StoredSessionView = Record<string, unknown> & { cookie: { expires: Date | null, originalMaxAge: number | null } }

/** express-session's callbacks: nothing (set, destroy) or (null, session) (get) on success */
type Done = (err?: Error) => void
type GetDone = (err: Error | null, session?: StoredSessionView | null) => void

/**
 * `request.sessionStore`: express-session's store methods over this plugin's sessions.
 * - `get(id)`: the live session's data and `cookie` (`expires`, `originalMaxAge`), or null.
 * - `set(id, session)`: writes the REQUEST'S OWN session (id = request.session.sessionId): its data
 *   becomes the object's keys (`cookie` is left out), validated, and saved now. Any other id fails with
 *   FST_SESSION_UNSUPPORTED: a session of ours is opened by a cookie carrying a secret the store keeps
 *   only the hash of, so a session put into the store by hand could never be used.
 * - `destroy(id)`: the request's own session is destroyed as by `request.session.destroy()` (its cookie
 *   cleared); another id is removed from the store (a 'destroyed' event when it was there).
 * With a callback, every outcome goes to it (a throwing callback is logged); without one, a promise
 * that never rejects unhandled (a failure nobody awaited is logged).
 */
export class RequestSessionStore {
  readonly #manager: SessionManager
  readonly #request: FastifyRequest

  constructor (manager: SessionManager, request: FastifyRequest) {
    this.#manager = manager
    this.#request = request
  }

  get (sessionId: string): Promise<StoredSessionView | null>
  get (sessionId: string, callback: GetDone): void
  get (sessionId: string, callback?: GetDone): Promise<StoredSessionView | null> | undefined {
    return this.#settle('get', this.#get(sessionId), callback === undefined ? undefined : (err, value) => { err === undefined ? callback(null, value) : callback(err) })
  }

  set (sessionId: string, session: object): Promise<void>
  set (sessionId: string, session: object, callback: Done): void
  set (sessionId: string, session: object, callback?: Done): Promise<void> | undefined {
    return this.#settle('set', this.#set(sessionId, session), callback === undefined ? undefined : err => { err === undefined ? callback() : callback(err) })
  }

  destroy (sessionId: string): Promise<void>
  destroy (sessionId: string, callback: Done): void
  destroy (sessionId: string, callback?: Done): Promise<void> | undefined {
    return this.#settle('destroy', this.#destroy(sessionId), callback === undefined ? undefined : err => { err === undefined ? callback() : callback(err) })
  }

  /** the request's own session, when `sessionId` names it */
  #own (sessionId: string): Session | null {
    const session = this.#request.session as unknown
    if (!(session instanceof Session)) return null
    return session[kState].id === sessionId ? session : null
  }

  async #get (sessionId: unknown): Promise<StoredSessionView | null> {
    const id = checkedId('get', sessionId)
    if (!ID_RE.test(id)) return null
    const record = usableRecord(await callStore('load the session', () => this.#manager.store.get(id)))
    const now = Date.now()
    if (record === null || record === undefined || (record.expiresAt !== null && record.expiresAt <= now)) return null
    if (typeof record.meta.absoluteExpiresAt === 'number' && record.meta.absoluteExpiresAt <= now) return null
    const idle = record.meta.idleTimeout === undefined ? this.#manager.options.idleTimeout : record.meta.idleTimeout
    return { ...record.data, cookie: { expires: record.expiresAt === null ? null : new Date(record.expiresAt), originalMaxAge: idle } }
  }

  async #set (sessionId: unknown, value: unknown): Promise<void> {
    const id = checkedId('set', sessionId)
    const own = this.#own(id)
    if (own === null) {
      throw new errorCodes.FST_SESSION_UNSUPPORTED('request.sessionStore.set() writes only the request\'s own session (request.session.sessionId): ' +
        'a session is created by the plugin, and its cookie carries a secret the store keeps only the hash of, so a session put into the store by hand could never be opened')
    }
    if (value === own) {
      await own.save()
      return
    }
    if (value === null || typeof value !== 'object') throw new errorCodes.FST_SESSION_INVALID_DATA(`request.sessionStore.set() takes the session as an object, got ${value === null ? 'null' : typeof value}`)
    const given = dataObject() // an own "__proto__" key stays a key (and is refused), never the data's prototype
    for (const [key, v] of Object.entries(value)) if (key !== 'cookie' && v !== undefined) given[key] = v
    const parsed = validateData(this.#manager.schema, given)
    if (!parsed.ok) throw invalidData(parsed)
    const state: SessionState = own[kState]
    markCleared(state, parsed.value)
    await own.save()
  }

  async #destroy (sessionId: unknown): Promise<void> {
    const id = checkedId('destroy', sessionId)
    const own = this.#own(id)
    if (own !== null) {
      await own.destroy()
      return
    }
    if (!ID_RE.test(id)) return
    const request = this.#request
    if (await callStore('destroy the session', () => this.#manager.store.destroy(id))) {
      this.#manager.options.events.emitFor('destroyed', { ip: request.ip, userAgent: request.headers['user-agent'], log: request.log }, { id, reason: 'destroy' })
    }
  }

  #settle<T> (method: string, promise: Promise<T>, callback: ((err: Error | undefined, value?: T) => void) | undefined): Promise<T> | undefined {
    const log = this.#request.log
    if (typeof callback === 'function') {
      const call = (err: Error | undefined, value?: T): void => {
        try {
          callback(err, value)
        } catch (thrown) {
          log.error({ err: thrown }, `the callback of request.sessionStore.${method}() threw`)
        }
      }
      promise.then(value => { call(undefined, value) }, (err: Error) => { call(err) })
      return undefined
    }
    // the caller may not await it (express-session stores take an optional callback): never an unhandled rejection
    promise.catch((err: unknown) => { log.warn({ err }, `request.sessionStore.${method}() failed`) })
    return promise
  }
}

function checkedId (method: string, sessionId: unknown): string {
  if (typeof sessionId === 'string') return sessionId
  throw new errorCodes.FST_SESSION_UNSUPPORTED(`request.sessionStore.${method}() takes the session id (request.session.sessionId), a string; got ${sessionId === null ? 'null' : typeof sessionId}`)
}
