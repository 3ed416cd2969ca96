import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { SessionRecord, SessionStore } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import { errorCodes, storeError } from './errors.js'
import { SessionCookie, addVaryCookie, type VerifiedCookie } from './cookie.js'
import { SessionWriter } from './persist.js'
import { callStore, detectNested, ensureId, expiryFor, freshState, resetState } from './state.js'
import { Session, kState, type SessionState } from './session.js'
import { sessionClassFor } from './session-accessors.js'
import { describeIssues, type SessionSchema } from './schema.js'
import { toMs } from './duration.js'
import { bindingMismatch } from './binding.js'
import { usableRecord } from './record.js'

/** placeholder until the store answers */
const NO_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

/** Loads sessions on request and persists the least it can on response. One per registered plugin. */
export class SessionManager {
  readonly schema: SessionSchema
  readonly store: SessionStore
  readonly cookie: SessionCookie
  readonly #opts: ResolvedOptions
  readonly #writer: SessionWriter
  readonly #Session: typeof Session

  constructor (opts: ResolvedOptions) {
    this.#opts = opts
    this.schema = opts.schema
    this.store = opts.store
    this.cookie = new SessionCookie(opts)
    this.#writer = new SessionWriter(opts, () => this.emptyData())
    this.#Session = sessionClassFor(opts.schema)
  }

  /** a new session's data: {} through the schema (validated at startup to succeed) */
  emptyData (): Record<string, unknown> {
    const result = this.schema.safeParse({})
    return result.success ? result.data : {}
  }

  /** save(): persists now what onSend would persist */
  async persist (state: SessionState): Promise<void> {
    await this.#writer.persist(state)
  }

  /** onRequest: a fresh session at once when there is no valid cookie; otherwise one store read. */
  load (request: FastifyRequest): Session | Promise<Session> {
    const now = Date.now()
    const log = request.log
    const inPath = this.cookie.inPath(request.url)
    const cookie = inPath ? this.cookie.read(request) : null
    const state = freshState(request, now, log, cookie === null ? this.emptyData() : NO_DATA)
    const session = new this.#Session(this, state)
    if (cookie === null) {
      if (inPath && request.cookies?.[this.#opts.cookieName] !== undefined) log.debug('session cookie rejected (bad signature or format): fresh session')
      return session
    }
    return this.#loadStored(session, state, cookie, now)
  }

  async #loadStored (session: Session, state: SessionState, cookie: VerifiedCookie, now: number): Promise<Session> {
    // the empty data is only worked out when the stored session cannot be used
    if (!await this.#adopt(state, cookie, now)) state.data = this.emptyData()
    return session
  }

  /** Fills the state from the store; false when the session is unusable (a fresh one follows). */
  async #adopt (state: SessionState, cookie: VerifiedCookie, now: number): Promise<boolean> {
    const log = state.log
    state.read = true
    const cookieKey = cookie.key
    let key = cookieKey
    let record: SessionRecord | undefined
    try {
      record = this.#usable(await this.store.get(key), log)
      if (record?.meta.rotatedTo !== undefined) {
        key = record.meta.rotatedTo
        record = this.#usable(await this.store.get(key), log)
      }
    } catch (err) {
      if (this.#opts.onStoreError === 'anonymous') {
        log.warn({ err }, 'session store unavailable: serving an unsaved anonymous session')
        state.anonymous = true
        return false
      }
      throw storeError('load the session', err)
    }
    const hash = key.slice(0, 12)
    if (record === undefined || (record.expiresAt !== null && record.expiresAt <= now)) {
      log.debug({ session: hash }, 'session unknown or expired: fresh session')
      return false
    }
    if (record.meta.absoluteExpiresAt !== undefined && record.meta.absoluteExpiresAt <= now) {
      log.debug({ session: hash }, 'session past its absolute timeout: fresh session')
      await this.#destroyQuietly(log, key)
      return false
    }
    const mismatch = this.#opts.bind === null ? null : bindingMismatch(this.#opts.bind, record.meta, state.ip, state.userAgent)
    if (mismatch !== null) {
      log.warn({ session: hash, mismatch }, 'session binding mismatch')
      if (this.#opts.bind?.onMismatch === 'destroy') {
        await this.#destroyQuietly(log, key)
        return false
      }
    }
    const data = this.#parseStored(record.data, log, hash)
    if (data === undefined) return false
    Object.assign(state, {
      id: cookie.id,
      key,
      cookieKey: key === cookieKey ? null : cookieKey,
      isNew: false,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      meta: record.meta,
      data: data.value,
      full: data.migrated,
      sendCookie: cookie.renew
    })
    const rotateAt = record.meta.rotateAt
    state.rotationDue = this.#opts.rotationInterval !== null && rotateAt !== undefined && rotateAt <= now && state.cookieKey === null
    const next = expiryFor(this.#opts, state, now)
    state.touchDue = next !== null && record.expiresAt !== null && next - record.expiresAt >= this.#opts.touchAfter
    return true
  }

  #usable (value: unknown, log: FastifyBaseLogger): SessionRecord | undefined {
    const record = usableRecord(value)
    if (record === null) log.warn('the store returned a malformed session record: fresh session')
    return record ?? undefined
  }

  #parseStored (stored: unknown, log: FastifyBaseLogger, hash: string): { value: Record<string, unknown>, migrated: boolean } | undefined {
    const result = this.schema.safeParse(stored)
    if (result.success) return { value: result.data, migrated: false }
    const policy = this.#opts.onInvalidData
    const why = describeIssues(result.error)
    if (policy === 'error') throw new errorCodes.FST_SESSION_INVALID_STORED_DATA(why)
    if (typeof policy === 'function') {
      const migrated = this.schema.safeParse(policy(stored, result.error as never))
      if (migrated.success) {
        log.info({ session: hash }, 'stored session data migrated to the current schema')
        return { value: migrated.data, migrated: true }
      }
    }
    log.warn({ session: hash, why }, 'stored session data failed the schema: fresh session')
    return undefined
  }

  async #destroyQuietly (log: FastifyBaseLogger, key: string): Promise<void> {
    try {
      await this.store.destroy(key)
    } catch (err) {
      log.warn({ err }, 'could not destroy an invalid session')
    }
  }

  async #destroyStored (state: SessionState): Promise<void> {
    if (state.isNew || state.key === null) return
    const keys = state.cookieKey === null ? [state.key] : [state.key, state.cookieKey]
    await callStore('destroy the session', async () => { for (const k of keys) await this.store.destroy(k) })
  }

  async regenerate (state: SessionState, keep?: string[]): Promise<void> {
    detectNested(state)
    await this.#destroyStored(state)
    if (Array.isArray(keep)) {
      for (const k of Object.keys(state.data)) if (!keep.includes(k)) delete state.data[k]
      Object.assign(state.data, { ...this.emptyData(), ...state.data })
    }
    state.id = null
    ensureId(state)
    state.cookieKey = null
    state.full = true
    state.rotationDue = false
    state.sendCookie = true
    if (!state.isNew) state.meta = { ...state.meta, rotateAt: undefined }
    state.isNew = true
  }

  async destroy (state: SessionState): Promise<void> {
    const existed = !state.isNew || state.sendCookie
    await this.#destroyStored(state)
    resetState(state, this.emptyData())
    state.clearCookie = existed || state.read
  }

  refresh (state: SessionState, idleTimeout: number | string | null | undefined): void {
    if (idleTimeout !== undefined) {
      const ms = idleTimeout === null ? null : toMs(idleTimeout)
      if (ms === undefined || ms === 0) throw new errorCodes.FST_SESSION_INVALID_OPTIONS('refresh.idleTimeout', `${String(idleTimeout)} is not a duration`)
      state.meta = { ...state.meta, idleTimeout: ms }
    }
    state.metaChanged = true
    state.sendCookie = true
  }

  async reload (state: SessionState): Promise<void> {
    if (state.isNew || state.key === null) return
    const record = this.#usable(await callStore('reload the session', () => this.store.get(state.key as string)), state.log)
    const parsed = record === undefined ? undefined : this.#parseStored(record.data, state.log, state.key.slice(0, 12))
    if (record === undefined || parsed === undefined) {
      resetState(state, this.emptyData())
      return
    }
    Object.assign(state, { data: parsed.value, meta: record.meta, expiresAt: record.expiresAt, snapshots: null, full: parsed.migrated })
    state.changed.clear()
    state.unset.clear()
  }

  /** onSend: persist unless the response is a server error, then write the cookie and Vary. Sync when there is no store work. */
  onSend (request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    const session = request.session as Session | null
    if (session === null) return undefined
    const state = session[kState]
    const now = Date.now()
    if (reply.statusCode >= 500) {
      // a failed request saves nothing; a session destroyed before the failure still loses its cookie
      if (state.clearCookie) reply.header('set-cookie', this.cookie.clear(request))
      if (state.read || state.clearCookie) addVaryCookie(reply)
      return undefined
    }
    const pending = this.#writer.persist(state, now)
    if (pending === undefined) {
      this.#headers(request, reply, state, now)
      return undefined
    }
    return pending.then(() => { this.#headers(request, reply, state, now) })
  }

  #headers (request: FastifyRequest, reply: FastifyReply, state: SessionState, now: number): void {
    if (state.sendCookie && state.id !== null && state.key !== null) {
      reply.header('set-cookie', this.cookie.serialize(request, state.id, state.expiresAt, now))
    } else if (state.clearCookie) {
      reply.header('set-cookie', this.cookie.clear(request))
    }
    if (state.read || state.sendCookie || state.clearCookie) addVaryCookie(reply)
  }
}
