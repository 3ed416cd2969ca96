import type { SessionStore, SessionMeta } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import type { SessionState } from './session.js'
import { errorCodes } from './errors.js'
import { describeIssues, validateKey, validatesPerKey, type SessionSchema } from './schema.js'
import { callStore, detectNested, ensureId, expiryFor, resetState } from './state.js'

interface LoadedState extends SessionState { key: string }

/** Decides and does the least store work that persists a session: nothing, touch, patch or set. */
export class SessionWriter {
  readonly #opts: ResolvedOptions
  readonly #store: SessionStore
  readonly #schema: SessionSchema
  readonly #emptyData: () => Record<string, unknown>
  readonly #perKey: boolean

  constructor (opts: ResolvedOptions, emptyData: () => Record<string, unknown>) {
    this.#opts = opts
    this.#store = opts.store
    this.#schema = opts.schema
    this.#emptyData = emptyData
    this.#perKey = validatesPerKey(opts.schema)
  }

  /** The store work this session needs, or undefined when it needs none (most read-only requests). */
  persist (state: SessionState, now = Date.now()): Promise<void> | undefined {
    if (state.anonymous) return undefined
    detectNested(state)
    const writes = state.changed.size > 0 || state.unset.size > 0 || state.full || state.metaChanged
    if (state.isNew && !writes && !this.#opts.saveUninitialized) return undefined
    if (!state.isNew && !writes && !state.rotationDue) {
      return state.touchDue ? this.#touch(state as LoadedState, now) : undefined
    }
    return this.#save(state, now)
  }

  async #save (state: SessionState, now: number): Promise<void> {
    const data = this.#validated(state)
    if (state.isNew) {
      state.meta = { ...state.meta, ip: state.ip, userAgent: state.userAgent }
      if (this.#opts.absoluteTimeout !== null) state.meta.absoluteExpiresAt = state.createdAt + this.#opts.absoluteTimeout
    }
    const expiresAt = expiryFor(this.#opts, state, now)
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
      // only the meta that changed: fewer fields to write (a Redis patch went from ~8 meta fields to 1)
      const delta: Partial<SessionMeta> = state.metaChanged ? meta : { lastAccessAt: now }
      if (!state.metaChanged) {
        if (meta.lastAccessIp !== state.meta.lastAccessIp) delta.lastAccessIp = meta.lastAccessIp
        if (meta.owner !== state.meta.owner) delta.owner = meta.owner
      }
      const found = await callStore('save the session', () => this.#store.patch(state.key as string, { set, unset: [...state.unset], expiresAt, meta: delta }))
      if (!found) {
        // destroyed or expired by someone else meanwhile: never resurrect it
        state.log.debug({ session: state.key?.slice(0, 12) }, 'session vanished before save: not recreated')
        resetState(state, this.#emptyData())
        state.clearCookie = true
        return
      }
      if (state.touchDue) state.sendCookie = true
    }
    Object.assign(state, { meta, expiresAt, isNew: false, full: false, metaChanged: false, rotationDue: false, touchDue: false })
    state.changed.clear()
    state.unset.clear()
  }

  /**
   * The data to persist, validated. The data a request starts from is always valid (parsed when
   * loaded, or the schema's empty data), so for an object schema with no object-level checks only
   * the changed keys are validated again; any other schema parses the data whole.
   */
  #validated (state: SessionState): Record<string, unknown> {
    const partial = this.#perKey
    const result = partial ? this.#validateChanged(state) : this.#schema.safeParse(state.data)
    if (!result.success) throw new errorCodes.FST_SESSION_INVALID_DATA(describeIssues(result.error))
    const limit = this.#opts.maxDataBytes
    if (limit !== null) {
      const bytes = Buffer.byteLength(JSON.stringify(result.data))
      if (bytes > limit) throw new errorCodes.FST_SESSION_TOO_LARGE(bytes, limit)
    }
    if (result.data === state.data) return state.data
    // keep the live object (and any proxy over it) but with the parsed values
    for (const k of Object.keys(state.data)) if (!Object.hasOwn(result.data, k)) delete state.data[k]
    return Object.assign(state.data, result.data)
  }

  #validateChanged (state: SessionState): { success: true, data: Record<string, unknown> } {
    for (const key of state.changed) {
      if (!Object.hasOwn(state.data, key)) continue
      const result = validateKey(this.#schema, state.data, key, state.data[key])
      if (!result.ok) throw new errorCodes.FST_SESSION_INVALID_DATA(result.why)
      state.data[key] = result.value
    }
    return { success: true, data: state.data }
  }

  async #writeWhole (state: SessionState, data: Record<string, unknown>, expiresAt: number | null, meta: SessionMeta, now: number): Promise<void> {
    const rotateFrom = state.rotationDue ? state.key : null
    if (state.isNew || state.rotationDue) {
      if (state.rotationDue) state.id = null
      ensureId(state)
      meta.rotateAt = this.#opts.rotationInterval === null ? undefined : now + this.#opts.rotationInterval
      state.sendCookie = true
    }
    const key = state.key as string
    await callStore('save the session', () => this.#store.set(key, { data, createdAt: state.createdAt, expiresAt, meta }))
    if (state.metaChanged) state.sendCookie = true
    if (rotateFrom !== null) {
      // the old id keeps resolving to the new session for rotationGrace, then dies
      const pointer = { data: {}, createdAt: state.createdAt, expiresAt: now + this.#opts.rotationGrace, meta: { rotatedTo: key } }
      try {
        await this.#store.set(rotateFrom, pointer)
      } catch (err) {
        state.log.warn({ err, session: key.slice(0, 12) }, 'could not leave the rotation pointer: the old id lives until it expires')
      }
    }
  }

  async #touch (state: LoadedState, now: number): Promise<void> {
    const expiresAt = expiryFor(this.#opts, state, now)
    await callStore('touch the session', () => this.#store.touch(state.key, expiresAt))
    state.expiresAt = expiresAt
    state.touchDue = false
    state.sendCookie = true
  }
}
