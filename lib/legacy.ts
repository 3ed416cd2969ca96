// Moving from @fastify/session without logging anyone out: a request that carries no cookie of ours
// but an @fastify/session one has that session read from the old store (connect-redis,
// fastify-session-redis-store, or any store with express-session's get(sid, callback)), validated
// against the schema, and saved as a session of ours; the response carries our cookie and clears the
// old one.
//
// An import is as safe as a login:
// - One session of ours per old session, however many requests carry the old cookie at once: the
//   imported session's id is derived from the old id (SHA-256 under a domain tag) and its first secret
//   is an HMAC of the old id under the app's secret (a store dump still holds no usable cookie); it is
//   created with the store's create-if-absent, and a request that loses that race opens the winner's
//   record with the same derived secret, as an ordinary load (so it gets the same cookie).
// - The old cookie dies with the session: after creating the session, the import writes a tombstone at
//   a second derived id. A tombstone with no session means the imported session ended (logout, revoke,
//   regenerate, expiry): the old cookie then imports nothing and is cleared, whether or not the old
//   store still has the session. The tombstone is read BEFORE the session: it is only ever written
//   after its session, so "tombstone, then no session" can only mean the session is gone.
// - Rotation replaces the derived secret like any other: once it is past rotationGrace, the old cookie
//   no longer opens the session either, and is cleared.
import type { FastifyRequest } from 'fastify'
import type { CookieSigner, SessionRecord, SessionStore } from '../types/index.js'
import type { ResolvedLegacy, ResolvedOptions } from './options.js'
import { errorCodes, storeError } from './errors.js'
import { deadline } from './store-timeout.js'
import { callStore, createIfAbsent } from './store-call.js'
import { requestCookie, type Parse, type VerifiedCookie } from './cookie.js'
import { hashSecret, legacySecret, legacySessionId, legacyTombstoneId, secretStatus } from './secrets.js'
import type { SessionLoader } from './load.js'
import type { StoredReader } from './stored.js'
import { clearLegacyCookie, importing, sawCookie, startOver, type SessionState } from './state.js'

/** a tombstone's only "secret hash": no secret hashes to it (a hash is 43 characters), so no cookie opens it */
const NO_SECRET = 'legacy-import-tombstone'
/** how long a tombstone guards an old cookie that had no expiry: connect-redis's and connect-pg-simple's default TTL */
const NO_EXPIRY_GUARD = 86_400_000

/** express-session stores answer through a callback; newer ones also return a promise */
async function callOldStore<T> (fn: (sid: string, cb: (err: unknown, value?: T) => void) => unknown, store: object, sid: string): Promise<T | undefined> {
  return await new Promise<T | undefined>((resolve, reject) => {
    let settled = false
    const done = (err: unknown, value?: T): void => {
      if (settled) return
      settled = true
      if (err !== null && err !== undefined) reject(err)
      else resolve(value ?? undefined)
    }
    try {
      const returned = fn.call(store, sid, done)
      if (returned instanceof Promise) returned.then(value => { done(null, value as T) }, done)
    } catch (err) {
      done(err)
    }
  })
}

interface LegacySession { cookie?: { expires?: string | Date | null }, [key: string]: unknown }

/** the old cookie's expiry in ms, or null when it had none (a browser-session cookie) */
function oldExpiry (old: LegacySession): number | null {
  const expires = old.cookie?.expires
  const at = expires instanceof Date ? expires.getTime() : typeof expires === 'string' ? Date.parse(expires) : NaN
  return Number.isNaN(at) ? null : at
}

export class LegacyImporter {
  readonly #legacy: ResolvedLegacy
  readonly #opts: ResolvedOptions
  readonly #store: SessionStore
  readonly #loader: SessionLoader
  readonly #stored: StoredReader
  readonly #create: (state: SessionState, now: number) => Promise<boolean>
  readonly #emptyData: () => Record<string, unknown>

  /** `create`: the writer's createImported (the session saved as any new one, but create-if-absent) */
  constructor (opts: ResolvedOptions, loader: SessionLoader, stored: StoredReader, create: (state: SessionState, now: number) => Promise<boolean>, emptyData: () => Record<string, unknown>) {
    this.#legacy = opts.legacy as ResolvedLegacy
    this.#opts = opts
    this.#store = opts.store
    this.#loader = loader
    this.#stored = stored
    this.#create = create
    this.#emptyData = emptyData
    if (typeof this.#store.create !== 'function') {
      process.emitWarning('fastify-zod-session: the session store has no create(): parallel requests carrying one @fastify/session cookie may import it twice, the later overwriting the earlier', { code: 'FST_SESSION_LEGACY_NO_CREATE' })
    }
  }

  /** the old session id when the request carries a valid @fastify/session cookie */
  oldId (request: FastifyRequest, parse: Parse): string | null {
    const raw = requestCookie(request, this.#legacy.cookieName, parse)
    if (typeof raw !== 'string' || raw.length > 512) return null
    let result: ReturnType<CookieSigner['unsign']> | undefined
    try {
      result = this.#legacy.signer.unsign(raw)
    } catch {
      return null // an app's signer object that throws on a malformed cookie: client input, never a 500
    }
    return result?.valid === true && typeof result.value === 'string' && result.value !== '' ? result.value : null
  }

  /**
   * Opens the session imported from the old one into `state`: the one already imported (by a parallel
   * request), or a new import. Leaves a fresh session when there is nothing (any more) to import.
   */
  async import (state: SessionState, oldId: string, now = Date.now()): Promise<void> {
    const id = legacySessionId(oldId)
    const tombstoneId = legacyTombstoneId(oldId)
    sawCookie(state)
    const tombstone = await callStore('read the legacy import mark', () => this.#store.get(tombstoneId))
    const existing = await callStore('load the imported session', () => this.#store.get(id))
    if (existing !== undefined) {
      await this.#join(state, oldId, existing, tombstone, now)
      return
    }
    if (tombstone !== undefined) {
      this.#dead(state, 'its imported session has ended')
      return
    }
    const old = await this.#readOld(oldId)
    const expiry = old === undefined ? null : oldExpiry(old)
    if (old === undefined || (expiry !== null && expiry <= now)) {
      this.#dead(state, 'the old store no longer has its session')
      return
    }
    const { cookie: _cookie, ...data } = old
    const parsed = this.#stored.parseStored(data, state.log, id)
    if (parsed === undefined) {
      this.#dead(state, 'the schema refuses its data') // cleared, or every request would read the old store again
      return
    }
    importing(state, id, legacySecret(this.#opts.secrets[0], oldId), { ...this.#emptyData(), ...parsed.value }, now)
    let created: boolean
    try {
      created = await this.#create(state, now)
    } catch (err) {
      // refused as a login or a save would be (over a limit, or data no store can carry as it is: a NUL, a
      // value nested too deep): the old cookie is dropped, or every request would try again
      if (!(err instanceof errorCodes.FST_SESSION_LIMIT) && !(err instanceof errorCodes.FST_SESSION_TOO_LARGE) && !(err instanceof errorCodes.FST_SESSION_INVALID_DATA)) throw err
      state.log.warn({ session: id, err }, 'legacy session not imported')
      startOver(state, this.#emptyData(), now)
      clearLegacyCookie(state, this.#legacy.cookieName)
      return
    }
    if (!created) {
      // a parallel request imported it first: open its record, as that request's client will
      startOver(state, this.#emptyData(), now)
      const winner = await callStore('load the imported session', () => this.#store.get(id))
      if (winner === undefined) this.#dead(state, 'its imported session has ended')
      else await this.#join(state, oldId, winner, undefined, now)
      return
    }
    const createdAtHr = state.meta.createdAtHr as number
    if (!await this.#mark(tombstoneId, createdAtHr, expiry, state.meta.absoluteExpiresAt ?? state.expiresAt, now)) {
      // an earlier import of this cookie has ended since this request looked: this one must not outlive it
      await callStore('remove a revived import', () => this.#store.destroy(id))
      startOver(state, this.#emptyData(), now)
      this.#dead(state, 'its imported session has ended')
      return
    }
    clearLegacyCookie(state, this.#legacy.cookieName)
    state.log.info({ session: id }, 'imported an @fastify/session session')
    this.#opts.events.emitFor('imported', state, { id, owner: state.meta.owner })
    if (this.#legacy.deleteAfterImport && typeof this.#legacy.store.destroy === 'function') {
      try {
        await this.#bounded(callOldStore(this.#legacy.store.destroy as never, this.#legacy.store, oldId), 'destroy')
      } catch (err) {
        state.log.warn({ err, session: id }, 'could not delete the imported session from the old store (its tombstone still stops the old cookie)')
      }
    }
  }

  /** the old store's session; its outage is our store's (onStoreError) */
  async #readOld (oldId: string): Promise<LegacySession | undefined> {
    let old: unknown
    try {
      old = await this.#bounded(callOldStore<LegacySession>(this.#legacy.store.get as never, this.#legacy.store, oldId), 'get')
    } catch (err) {
      throw storeError('read the @fastify/session session from legacy.store', err)
    }
    return old === null || typeof old !== 'object' ? undefined : old as LegacySession
  }

  /** the old store is held to storeTimeout like ours: a hung one costs a request storeTimeout, never a hang */
  async #bounded<T> (call: Promise<T>, method: string): Promise<T> {
    const ms = this.#opts.storeTimeout
    return ms === null ? await call : await deadline(call, ms, `legacy.store.${method}`)
  }

  /**
   * Opens the imported session with the derived secret, as an ordinary load: its cookie goes out once a
   * touch has shown the session is still there. A record the tombstone does not name (revived by a
   * request that raced an earlier import's end) opens nothing; a missing tombstone is written.
   */
  async #join (state: SessionState, oldId: string, record: SessionRecord, tombstone: SessionRecord | undefined, now: number): Promise<void> {
    const id = legacySessionId(oldId)
    const createdAtHr = record.meta.createdAtHr
    if (tombstone !== undefined ? tombstone.data.of !== createdAtHr : !await this.#mark(legacyTombstoneId(oldId), createdAtHr, null, record.meta.absoluteExpiresAt ?? record.expiresAt, now)) {
      this.#dead(state, 'its imported session has ended')
      return
    }
    // the secret under each of the app's secrets, newest first: the import may predate a change of secret
    let cookie: VerifiedCookie | undefined
    for (const appSecret of this.#opts.secrets) {
      const secret = legacySecret(appSecret, oldId)
      const hash = hashSecret(secret)
      cookie ??= { id, secret, hash, renew: true }
      if (secretStatus(record.auth, hash, now) !== null) {
        cookie = { id, secret, hash, renew: true }
        break
      }
    }
    if (!await this.#loader.openRecord(state, cookie as VerifiedCookie, record, now)) {
      this.#dead(state, 'its secret no longer opens the imported session')
      return
    }
    clearLegacyCookie(state, this.#legacy.cookieName)
  }

  /**
   * Writes the tombstone of the session created at `createdAtHr`, or finds it written (by a parallel
   * request): true. False when another session's tombstone is there: that import has ended.
   *
   * It lives until the old cookie's expiry, when later than the session's (absolute) deadline, so the old
   * cookie stays dead as long as the old store could still hand out its session. An old cookie with no
   * expiry (a browser-session cookie): at least a day, connect-redis's and connect-pg-simple's default TTL.
   */
  async #mark (tombstoneId: string, createdAtHr: number | undefined, oldExpiry: number | null, sessionDeadline: number | null, now: number): Promise<boolean> {
    if (createdAtHr === undefined) return false
    const expiresAt = Math.max(oldExpiry ?? now + NO_EXPIRY_GUARD, sessionDeadline ?? 0)
    const tombstone: SessionRecord = { data: { of: createdAtHr }, createdAt: now, expiresAt, version: 0, auth: { current: [NO_SECRET], replaced: [] }, meta: {} }
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await callStore('mark the legacy session imported', () => createIfAbsent(this.#store, tombstoneId, tombstone))) return true
      const found = await callStore('read the legacy import mark', () => this.#store.get(tombstoneId))
      if (found !== undefined) return found.data.of === createdAtHr
      // expired between the two calls: write it again
    }
    return false
  }

  /** The old cookie opens nothing (any more): a fresh session, and the response clears it. */
  #dead (state: SessionState, why: string): void {
    state.log.debug(`@fastify/session cookie cleared: ${why}`)
    clearLegacyCookie(state, this.#legacy.cookieName)
  }
}
