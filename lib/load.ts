import type { FastifyBaseLogger } from 'fastify'
import type { SessionRecord, SessionStore } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import type { VerifiedCookie } from './cookie.js'
import { storeError } from './errors.js'
import { bindingMismatch } from './binding.js'
import { extensionDue } from './expiry.js'
import { secretStatus } from './secrets.js'
import type { StoredReader } from './stored.js'
import { adopt, openedNothing, sawCookie, servedAnonymous, type SessionState } from './state.js'

/** Reads and checks a stored session: one store read, then secret, deadlines, binding and schema. */
export class SessionLoader {
  readonly #opts: ResolvedOptions
  readonly #store: SessionStore
  readonly #stored: StoredReader
  readonly #emptyData: () => Record<string, unknown>

  constructor (opts: ResolvedOptions, stored: StoredReader, emptyData: () => Record<string, unknown>) {
    this.#opts = opts
    this.#store = opts.store
    this.#stored = stored
    this.#emptyData = emptyData
  }

  /**
   * Fills the state from the store, or with empty data when the session is unusable (a fresh one
   * follows). Resolves to `session`, so that the request's hook waits on this one promise only.
   */
  async open<S> (state: SessionState, cookie: VerifiedCookie, now: number, session: S): Promise<S> {
    const log = state.log
    sawCookie(state)
    let record: SessionRecord | undefined
    try {
      record = this.#stored.usable(await this.#store.get(cookie.id), log)
    } catch (err) {
      if (this.#opts.onStoreError !== 'anonymous') throw storeError('load the session', err)
      log.warn({ err }, 'session store unavailable: serving an unsaved anonymous session')
      servedAnonymous(state, this.#emptyData(), state.createdAt)
      return session
    }
    const verdict = this.#check(state, cookie, record, now)
    if (verdict === 'usable') return session
    await this.#unusable(state, cookie, record, verdict)
    return session
  }

  /** A record someone else read (the legacy import) opened with `cookie`, as open() opens one: true when usable. */
  async openRecord (state: SessionState, cookie: VerifiedCookie, record: SessionRecord | undefined, now: number): Promise<boolean> {
    sawCookie(state)
    const verdict = this.#check(state, cookie, record, now)
    if (verdict === 'usable') return true
    await this.#unusable(state, cookie, record, verdict)
    return false
  }

  async #unusable (state: SessionState, cookie: VerifiedCookie, record: SessionRecord | undefined, verdict: 'fresh' | 'destroy' | 'destroy on mismatch'): Promise<void> {
    if (verdict !== 'fresh' && await this.#destroyQuietly(state.log, cookie.id) && verdict === 'destroy on mismatch') {
      this.#opts.events.emitFor('destroyed', state, { id: cookie.id, owner: record?.meta.owner, reason: 'binding' })
    }
    openedNothing(state, this.#emptyData())
  }

  /** Adopts a usable record into the state (synchronously: the read path awaits only the store), or says why not. */
  #check (state: SessionState, cookie: VerifiedCookie, record: SessionRecord | undefined, now: number): 'usable' | 'fresh' | 'destroy' | 'destroy on mismatch' {
    const log = state.log
    const session = cookie.id
    const events = this.#opts.events
    if (record === undefined || (record.expiresAt !== null && record.expiresAt <= now)) {
      log.debug({ session }, 'session unknown or expired: fresh session')
      if (record === undefined) events.emitFor('rejected', state, { id: session, reason: 'unknown' })
      else events.emitFor('expired', state, { id: session, owner: record.meta.owner, reason: 'idle' })
      return 'fresh'
    }
    const owner = record.meta.owner
    const status = secretStatus(record.auth, cookie.hash, now)
    if (status === null) {
      log.debug({ session }, 'session secret not current nor in its grace window: fresh session')
      events.emitFor('rejected', state, { id: session, owner, reason: 'secret' })
      return 'fresh'
    }
    if (typeof record.meta.absoluteExpiresAt === 'number' && record.meta.absoluteExpiresAt <= now) {
      log.debug({ session }, 'session past its absolute timeout: fresh session')
      events.emitFor('expired', state, { id: session, owner, reason: 'absolute' })
      return 'destroy'
    }
    const mismatch = this.#opts.bind === null ? null : bindingMismatch(this.#opts.bind, record.meta, state.ip, state.userAgent)
    if (mismatch !== null) {
      log.warn({ session, mismatch }, 'session binding mismatch')
      events.emitFor('bindingMismatch', state, { id: session, owner, reason: mismatch })
      if (this.#opts.bind?.onMismatch === 'destroy') return 'destroy on mismatch'
    }
    const data = this.#stored.parseStored(record.data, log, session)
    if (data === undefined) return 'fresh'
    adopt(state, {
      id: cookie.id,
      secret: cookie.secret,
      record,
      data: data.value,
      migrated: data.migrated,
      graceSecret: status === 'replaced',
      // a re-signed cookie goes out only after a store write has shown the session is still there
      touchDue: cookie.renew || extensionDue(this.#opts, record.meta, record.expiresAt, now)
    })
    return 'usable'
  }

  async #destroyQuietly (log: FastifyBaseLogger, id: string): Promise<boolean> {
    try {
      return await this.#store.destroy(id)
    } catch (err) {
      log.warn({ err }, 'could not destroy an invalid session')
      return false
    }
  }
}
