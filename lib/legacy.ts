// Moving from @fastify/session without logging anyone out: a request that carries no cookie of ours
// but an @fastify/session one has that session read from the old store (connect-redis,
// fastify-session-redis-store, or any store with express-session's get(sid, callback)), validated
// against the schema, and saved as a new session of ours; the response carries our cookie and clears
// the old one, so a later logout cannot be undone by the old cookie.
import { Signer } from '@fastify/cookie'
import type { FastifyRequest } from 'fastify'
import type { LegacyOptions } from '../types/index.js'
import { errorCodes } from './errors.js'
import { requestCookie, type Parse } from './cookie.js'
import type { SessionLoader } from './load.js'
import { regenerated, type SessionState } from './state.js'

export interface ResolvedLegacy {
  cookieName: string
  signer: Signer
  store: NonNullable<LegacyOptions['store']>
  deleteAfterImport: boolean
}

export function resolveLegacy (value: unknown): ResolvedLegacy | null {
  if (value === undefined || value === null || value === false) return null
  const fail = (option: string, why: string): never => { throw new errorCodes.FST_SESSION_INVALID_OPTIONS(`legacy.${option}`, why) }
  if (typeof value !== 'object') fail('', 'must be an object like { secret, store }')
  const legacy = value as LegacyOptions
  const secrets = Array.isArray(legacy.secret) ? legacy.secret : [legacy.secret]
  if (secrets.length === 0 || secrets.some(s => typeof s !== 'string' || s.length === 0)) fail('secret', "is required: @fastify/session's secret (or its array)")
  if (legacy.store === null || typeof legacy.store?.get !== 'function') fail('store', "must be the old store (connect-redis's RedisStore, fastify-session-redis-store, …): an object with get(sid, callback)")
  const cookieName = legacy.cookieName ?? 'sessionId'
  if (typeof cookieName !== 'string' || cookieName === '') fail('cookieName', 'must be a cookie name')
  return { cookieName, signer: new Signer(secrets, 'sha256'), store: legacy.store, deleteAfterImport: legacy.deleteAfterImport === true }
}

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

interface LegacySession { cookie?: { expires?: string | null }, [key: string]: unknown }

export class LegacyImporter {
  readonly #legacy: ResolvedLegacy
  readonly #loader: SessionLoader

  constructor (legacy: ResolvedLegacy, loader: SessionLoader) {
    this.#legacy = legacy
    this.#loader = loader
  }

  /** the old session id when the request carries a valid @fastify/session cookie */
  oldId (request: FastifyRequest, parse: Parse): string | null {
    const raw = requestCookie(request, this.#legacy.cookieName, parse)
    if (typeof raw !== 'string' || raw.length > 512) return null
    const result = this.#legacy.signer.unsign(raw)
    return result.valid && result.value !== null && result.value !== '' ? result.value : null
  }

  /** Loads the old session into `state` as a new session of ours; false when there is none to import. */
  async import (state: SessionState, oldId: string, emptyData: Record<string, unknown>): Promise<boolean> {
    const old = await callOldStore<LegacySession>(this.#legacy.store.get as never, this.#legacy.store, oldId)
    if (old === undefined || old === null || typeof old !== 'object') return false
    const expires = old.cookie?.expires
    if (typeof expires === 'string' && Date.parse(expires) <= Date.now()) return false
    const { cookie: _cookie, ...data } = old
    const parsed = this.#loader.parseStored(data, state.log, `legacy ${oldId.slice(0, 6)}…`)
    if (parsed === undefined) return false
    regenerated(state, { ...emptyData, ...parsed.value }, Date.now(), false)
    state.previousId = null // nothing of ours to delete
    state.clearLegacy = this.#legacy.cookieName
    if (this.#legacy.deleteAfterImport && typeof this.#legacy.store.destroy === 'function') {
      await callOldStore(this.#legacy.store.destroy as never, this.#legacy.store, oldId)
    }
    return true
  }
}
