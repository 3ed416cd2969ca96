import type { FastifyBaseLogger } from 'fastify'
import type { SessionAuth, SessionRecord, SessionStore } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import type { VerifiedCookie } from './cookie.js'
import { errorCodes, storeError } from './errors.js'
import { describeIssues, type SessionSchema } from './schema.js'
import { bindingMismatch } from './binding.js'
import { extensionDue } from './expiry.js'
import { adopt, type SessionState } from './state.js'
import { usableRecord } from '../stores/kit/record.js'
import { isPlainObject } from '../stores/kit/json-tree.js'
import { isReservedKey } from './json-value.js'

/** constant time for hashes of one length, without allocating on every request (as timingSafeEqual's Buffers would) */
function sameHash (a: string, b: string): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

/** 'current', 'replaced' (still in its grace window) or null: the secret does not open this session. */
export function secretStatus (auth: SessionAuth, hash: string, now: number): 'current' | 'replaced' | null {
  let status: 'current' | 'replaced' | null = null
  // every entry is compared, so the time taken does not say which one matched
  for (const current of auth.current) if (sameHash(current, hash)) status = 'current'
  for (const [replaced, until] of auth.replaced) if (until > now && sameHash(replaced, hash) && status === null) status = 'replaced'
  return status
}

/** Reads and checks a stored session: one store read, then secret, deadlines, binding and schema. */
export class SessionLoader {
  readonly #opts: ResolvedOptions
  readonly #store: SessionStore
  readonly #schema: SessionSchema
  readonly #emptyData: () => Record<string, unknown>

  constructor (opts: ResolvedOptions, emptyData: () => Record<string, unknown>) {
    this.#opts = opts
    this.#store = opts.store
    this.#schema = opts.schema
    this.#emptyData = emptyData
  }

  /**
   * Fills the state from the store, or with empty data when the session is unusable (a fresh one
   * follows). Resolves to `session`, so that the request's hook waits on this one promise only.
   */
  async open<S> (state: SessionState, cookie: VerifiedCookie, now: number, session: S): Promise<S> {
    const log = state.log
    state.read = true
    let record: SessionRecord | undefined
    try {
      record = this.usable(await this.#store.get(cookie.id), log)
    } catch (err) {
      if (this.#opts.onStoreError !== 'anonymous') throw storeError('load the session', err)
      log.warn({ err }, 'session store unavailable: serving an unsaved anonymous session')
      state.anonymous = true
      state.data = this.#emptyData()
      return session
    }
    const verdict = this.#check(state, cookie, record, now)
    if (verdict === 'usable') return session
    await this.#unusable(state, cookie, record, verdict)
    return session
  }

  /** A record someone else read (the legacy import) opened with `cookie`, as open() opens one: true when usable. */
  async openRecord (state: SessionState, cookie: VerifiedCookie, record: SessionRecord | undefined, now: number): Promise<boolean> {
    state.read = true
    const verdict = this.#check(state, cookie, record, now)
    if (verdict === 'usable') return true
    await this.#unusable(state, cookie, record, verdict)
    return false
  }

  async #unusable (state: SessionState, cookie: VerifiedCookie, record: SessionRecord | undefined, verdict: 'fresh' | 'destroy' | 'destroy on mismatch'): Promise<void> {
    if (verdict !== 'fresh' && await this.#destroyQuietly(state.log, cookie.id) && verdict === 'destroy on mismatch') {
      this.#opts.events.emitFor('destroyed', state, { id: cookie.id, owner: record?.meta.owner, reason: 'binding' })
    }
    state.data = this.#emptyData()
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
    const data = this.parseStored(record.data, log, session)
    if (data === undefined) return 'fresh'
    adopt(state, {
      id: cookie.id,
      secret: cookie.secret,
      record,
      data: data.value,
      migrated: data.migrated,
      replacedSecret: status === 'replaced',
      // a re-signed cookie goes out only after a store write has shown the session is still there
      touchDue: cookie.renew || extensionDue(this.#opts, record.meta, record.expiresAt, now)
    })
    return 'usable'
  }

  /** the record a store answered, or undefined (a malformed one is logged and treated as missing) */
  usable (value: unknown, log: FastifyBaseLogger): SessionRecord | undefined {
    const record = usableRecord(value)
    if (record === null) log.warn('the store returned a malformed session record: fresh session')
    return record ?? undefined
  }

  /** stored data through the schema, with the onInvalidData policy; undefined = start over */
  parseStored (stored: unknown, log: FastifyBaseLogger, session: string): { value: Record<string, unknown>, migrated: boolean } | undefined {
    const data = withoutReservedKeys(stored, log, session)
    const result = this.#schema.safeParse(data)
    if (result.success) return { value: result.data, migrated: false }
    const policy = this.#opts.onInvalidData
    const why = describeIssues(result.error)
    if (policy === 'error') throw new errorCodes.FST_SESSION_INVALID_STORED_DATA(why)
    if (typeof policy === 'function') {
      const output = policy(data, result.error as never)
      // a migration's result must be plain data too: no prototype of its own (`{ __proto__: … }`), no reserved key
      const problem = prototypeProblem(output)
      const migrated = problem === undefined ? this.#schema.safeParse(output) : undefined
      if (migrated?.success === true) {
        log.info({ session }, 'stored session data migrated to the current schema')
        return { value: migrated.data, migrated: true }
      }
      if (problem !== undefined) log.warn({ session, why: problem }, 'onInvalidData returned data that cannot be a session')
    }
    log.warn({ session, why }, 'stored session data failed the schema: fresh session')
    return undefined
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

/**
 * Stored data without the top-level keys a session never holds (`__proto__`, `constructor`, `prototype`):
 * set() refuses them, so a record holding one was written by something else; they are dropped (and
 * logged) before the schema or a migrate function sees the data. The same object when there is none.
 */
function withoutReservedKeys (stored: unknown, log: FastifyBaseLogger, session: string): unknown {
  if (stored === null || typeof stored !== 'object' || !isPlainObject(stored)) return stored // the schema refuses it
  const own = stored as Record<string, unknown>
  if (!Object.hasOwn(own, '__proto__') && !Object.hasOwn(own, 'constructor') && !Object.hasOwn(own, 'prototype')) return stored
  const clean = Object.create(null) as Record<string, unknown>
  const dropped: string[] = []
  for (const key of Object.keys(own)) {
    if (isReservedKey(key)) dropped.push(key)
    else clean[key] = own[key]
  }
  log.warn({ session, keys: dropped }, 'stored session data held keys a session never holds: dropped')
  return clean
}

/** why a migrate function's result cannot be session data (an object with a prototype of its own, a reserved key), or undefined */
function prototypeProblem (value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined // the schema refuses it
  if (!isPlainObject(value)) return 'an object with a prototype other than Object.prototype'
  for (const key of Object.keys(value)) if (isReservedKey(key)) return `the key "${key}"`
  return undefined
}
