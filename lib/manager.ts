import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import type { SessionRecord, SessionStore } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import { errorCodes, storeError } from './errors.js'
import { SessionCookie, addVaryCookie, newId, storeKey } from './cookie.js'
import { Session, kState, type SessionState } from './session.js'
import { describeIssues, type SessionSchema } from './schema.js'
import { stringify } from './codec.js'
import { toMs } from './duration.js'
import { bindingMismatch } from './binding.js'

interface LoadedState extends SessionState { key: string }

/** Loads sessions on request and persists the least it can on response. One per registered plugin. */
export class SessionManager {
  readonly schema: SessionSchema
  readonly store: SessionStore
  readonly cookie: SessionCookie
  readonly #opts: ResolvedOptions

  constructor (opts: ResolvedOptions) {
    this.#opts = opts
    this.schema = opts.schema
    this.store = opts.store
    this.cookie = new SessionCookie(opts)
  }

  /** a new session's data: {} through the schema (validated at startup to succeed) */
  emptyData (): Record<string, unknown> {
    const result = this.schema.safeParse({})
    return result.success ? result.data : {}
  }

  ensureId (state: SessionState): string {
    if (state.id === null) {
      state.id = newId()
      state.key = storeKey(state.id)
    }
    return state.id
  }

  #fresh (request: FastifyRequest, now: number, log: FastifyBaseLogger): SessionState {
    return {
      id: null,
      key: null,
      cookieKey: null,
      isNew: true,
      createdAt: now,
      expiresAt: null,
      meta: {},
      data: this.emptyData(),
      changed: new Set(),
      unset: new Set(),
      snapshots: null,
      full: false,
      metaChanged: false,
      rotationDue: false,
      touchDue: false,
      sendCookie: false,
      clearCookie: false,
      anonymous: false,
      read: false,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
      log
    }
  }

  async load (request: FastifyRequest): Promise<Session> {
    const now = Date.now()
    const log = request.log
    const state = this.#fresh(request, now, log)
    const session = new Session(this, state)
    if (!this.cookie.inPath(request.url)) return session
    const cookie = this.cookie.read(request)
    if (cookie === null) {
      if (request.cookies?.[this.#opts.cookieName] !== undefined) log.debug('session cookie rejected (bad signature or format): fresh session')
      return session
    }
    state.read = true
    const cookieKey = storeKey(cookie.id)
    let key = cookieKey
    let record: SessionRecord | undefined
    try {
      record = await this.store.get(key)
      if (record?.meta.rotatedTo !== undefined) {
        key = record.meta.rotatedTo
        record = await this.store.get(key)
      }
    } catch (err) {
      if (this.#opts.onStoreError === 'anonymous') {
        log.warn({ err }, 'session store unavailable: serving an unsaved anonymous session')
        state.anonymous = true
        return session
      }
      throw storeError('load the session', err)
    }
    const hash = key.slice(0, 12)
    if (record === undefined || (record.expiresAt !== null && record.expiresAt <= now)) {
      log.debug({ session: hash }, 'session unknown or expired: fresh session')
      return session
    }
    if (record.meta.absoluteExpiresAt !== undefined && record.meta.absoluteExpiresAt <= now) {
      log.debug({ session: hash }, 'session past its absolute timeout: fresh session')
      await this.#destroyQuietly(log, key)
      return session
    }
    const mismatch = this.#opts.bind === null ? null : bindingMismatch(this.#opts.bind, record.meta, state.ip, state.userAgent)
    if (mismatch !== null) {
      log.warn({ session: hash, mismatch }, 'session binding mismatch')
      if (this.#opts.bind?.onMismatch === 'destroy') {
        await this.#destroyQuietly(log, key)
        return session
      }
    }
    const data = this.#parseStored(record.data, log, hash)
    if (data === undefined) return session
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
    const next = this.#expiryFor(state, now)
    state.touchDue = next !== null && record.expiresAt !== null && next - record.expiresAt >= this.#opts.touchAfter
    return session
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

  #expiryFor (state: SessionState, now: number): number | null {
    const idle = state.meta.idleTimeout !== undefined ? state.meta.idleTimeout : this.#opts.idleTimeout
    const absolute = state.meta.absoluteExpiresAt ?? null
    const sliding = idle === null ? null : now + idle
    if (absolute === null) return sliding
    return sliding === null ? absolute : Math.min(sliding, absolute)
  }

  /** Finds nested mutations of values handed out by get() or data. */
  #detectNested (state: SessionState): void {
    if (state.snapshots === null) return
    for (const [key, json] of state.snapshots) {
      if (!state.changed.has(key) && stringify(state.data[key]) !== json) state.changed.add(key)
    }
    state.snapshots = null
  }

  async persist (state: SessionState, now = Date.now()): Promise<void> {
    if (state.anonymous) return
    this.#detectNested(state)
    const writes = state.changed.size > 0 || state.unset.size > 0 || state.full || state.metaChanged
    if (state.isNew && !writes && !this.#opts.saveUninitialized) return
    if (!state.isNew && !writes && !state.rotationDue) {
      if (state.touchDue) await this.#touch(state as LoadedState, now)
      return
    }
    const data = this.#validated(state)
    if (state.isNew) {
      state.meta = { ...state.meta, ip: state.ip, userAgent: state.userAgent }
      if (this.#opts.absoluteTimeout !== null) state.meta.absoluteExpiresAt = state.createdAt + this.#opts.absoluteTimeout
    }
    const expiresAt = this.#expiryFor(state, now)
    const owner = this.#opts.owner?.(data) ?? undefined
    const meta = { ...state.meta, lastAccessAt: now, lastAccessIp: state.ip, owner: owner === null ? undefined : owner }
    if (state.isNew || state.full || state.rotationDue) {
      await this.#writeWhole(state, data, expiresAt, meta, now)
    } else {
      const set: Record<string, unknown> = {}
      for (const k of state.changed) {
        if (Object.hasOwn(data, k)) set[k] = data[k]
        else state.unset.add(k)
      }
      const found = await this.#call('save the session', () => this.store.patch(state.key as string, { set, unset: [...state.unset], expiresAt, meta }))
      if (!found) {
        // destroyed or expired by someone else meanwhile: never resurrect it
        state.log.debug({ session: state.key?.slice(0, 12) }, 'session vanished before save: not recreated')
        this.#reset(state)
        state.clearCookie = true
        return
      }
      if (state.touchDue) state.sendCookie = true
    }
    Object.assign(state, { meta, expiresAt, isNew: false, full: false, metaChanged: false, rotationDue: false, touchDue: false })
    state.changed.clear()
    state.unset.clear()
  }

  #validated (state: SessionState): Record<string, unknown> {
    const result = this.schema.safeParse(state.data)
    if (!result.success) throw new errorCodes.FST_SESSION_INVALID_DATA(describeIssues(result.error))
    const limit = this.#opts.maxDataBytes
    if (limit !== null) {
      const bytes = Buffer.byteLength(stringify(result.data))
      if (bytes > limit) throw new errorCodes.FST_SESSION_TOO_LARGE(bytes, limit)
    }
    // keep the live object (and any proxy over it) but with the parsed values
    for (const k of Object.keys(state.data)) if (!Object.hasOwn(result.data, k)) delete state.data[k]
    return Object.assign(state.data, result.data)
  }

  async #writeWhole (state: SessionState, data: Record<string, unknown>, expiresAt: number | null, meta: SessionState['meta'], now: number): Promise<void> {
    const rotateFrom = state.rotationDue ? state.key : null
    if (state.isNew || state.rotationDue) {
      if (state.rotationDue) state.id = null
      this.ensureId(state)
      meta.rotateAt = this.#opts.rotationInterval === null ? undefined : now + this.#opts.rotationInterval
      state.sendCookie = true
    }
    const key = state.key as string
    await this.#call('save the session', () => this.store.set(key, { data, createdAt: state.createdAt, expiresAt, meta }))
    if (state.metaChanged) state.sendCookie = true
    if (rotateFrom !== null) {
      // the old id keeps resolving to the new session for rotationGrace, then dies
      const pointer = { data: {}, createdAt: state.createdAt, expiresAt: now + this.#opts.rotationGrace, meta: { rotatedTo: key } }
      try {
        await this.store.set(rotateFrom, pointer)
      } catch (err) {
        state.log.warn({ err, session: key.slice(0, 12) }, 'could not leave the rotation pointer: the old id lives until it expires')
      }
    }
  }

  async #touch (state: LoadedState, now: number): Promise<void> {
    const expiresAt = this.#expiryFor(state, now)
    await this.#call('touch the session', () => this.store.touch(state.key, expiresAt))
    state.expiresAt = expiresAt
    state.touchDue = false
    state.sendCookie = true
  }

  async #call<T> (action: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op()
    } catch (err) {
      throw storeError(action, err)
    }
  }

  async #destroyQuietly (log: FastifyBaseLogger, key: string): Promise<void> {
    try {
      await this.store.destroy(key)
    } catch (err) {
      log.warn({ err }, 'could not destroy an invalid session')
    }
  }

  #reset (state: SessionState): void {
    Object.assign(state, {
      id: null,
      key: null,
      cookieKey: null,
      isNew: true,
      createdAt: Date.now(),
      expiresAt: null,
      meta: {},
      data: this.emptyData(),
      snapshots: null,
      full: false,
      metaChanged: false,
      rotationDue: false,
      touchDue: false,
      sendCookie: false
    })
    state.changed.clear()
    state.unset.clear()
  }

  async #destroyStored (state: SessionState): Promise<void> {
    if (state.isNew || state.key === null) return
    const keys = state.cookieKey === null ? [state.key] : [state.key, state.cookieKey]
    await this.#call('destroy the session', async () => { for (const k of keys) await this.store.destroy(k) })
  }

  async regenerate (state: SessionState, keep?: string[]): Promise<void> {
    this.#detectNested(state)
    await this.#destroyStored(state)
    if (Array.isArray(keep)) {
      for (const k of Object.keys(state.data)) if (!keep.includes(k)) delete state.data[k]
      Object.assign(state.data, { ...this.emptyData(), ...state.data })
    }
    state.id = null
    this.ensureId(state)
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
    this.#reset(state)
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
    const record = await this.#call('reload the session', () => this.store.get(state.key as string))
    const parsed = record === undefined ? undefined : this.#parseStored(record.data, state.log, state.key.slice(0, 12))
    if (record === undefined || parsed === undefined) {
      this.#reset(state)
      return
    }
    Object.assign(state, { data: parsed.value, meta: record.meta, expiresAt: record.expiresAt, snapshots: null, full: parsed.migrated })
    state.changed.clear()
    state.unset.clear()
  }

  /** onSend: persist unless the response is a server error, then write the cookie and Vary. */
  async onSend (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const session = request.session as Session | null
    if (session === null) return
    const state = session[kState]
    const now = Date.now()
    if (reply.statusCode >= 500) {
      // a failed request saves nothing; a session destroyed before the failure still loses its cookie
      if (state.clearCookie) reply.header('set-cookie', this.cookie.clear(request))
      if (state.read || state.clearCookie) addVaryCookie(reply)
      return
    }
    await this.persist(state, now)
    if (state.sendCookie && state.id !== null && state.key !== null) {
      reply.header('set-cookie', this.cookie.serialize(request, state.id, state.expiresAt, now))
    } else if (state.clearCookie) {
      reply.header('set-cookie', this.cookie.clear(request))
    }
    if (state.read || state.sendCookie || state.clearCookie) addVaryCookie(reply)
  }
}
