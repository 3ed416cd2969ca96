import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Duration, SessionStore } from '../types/index.js'
import { checkLifetimes, type RefreshOptions, type ResolvedOptions } from './options.js'
import { errorCodes } from './errors.js'
import { SessionCookie, addVaryCookie, requestCookie, type CookieCodec, type VerifiedCookie } from './cookie.js'
import { StoredReader } from './stored.js'
import { SessionLoader } from './load.js'
import { SessionWriter } from './persist.js'
import { callStore } from './store-call.js'
import {
  cookieOwed, destroyed, detectNested, freshState, hasWrites, outsidePath, ownLifetime, regenerated, reloaded, reloadedUnsaved,
  servedAnonymous, startOver, variesOnCookie, type SessionState
} from './state.js'
import { Session, kState, type SessionHost } from './session.js'
import { sessionProxy } from './session-proxy.js'
import { LegacyImporter } from './legacy.js'
import type { SessionSchema } from './schema.js'
import { toMs } from './duration.js'
import { idleOf } from './expiry.js'

/** placeholder until the store answers */
const NO_DATA: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

const isBare = (data: unknown): boolean =>
  data !== null && typeof data === 'object' && Object.getPrototypeOf(data) === Object.prototype && Object.keys(data).length === 0

/** Loads sessions on request, runs request.session's lifecycle calls, persists on response. One per registered plugin. */
export class SessionManager implements SessionHost {
  readonly schema: SessionSchema
  readonly store: SessionStore
  readonly cookie: SessionCookie
  readonly #opts: ResolvedOptions
  readonly #stored: StoredReader
  readonly #loader: SessionLoader
  readonly #writer: SessionWriter
  readonly #legacy: LegacyImporter | null

  constructor (opts: ResolvedOptions, cookies: CookieCodec) {
    this.#opts = opts
    this.schema = opts.schema
    this.store = opts.store
    this.cookie = new SessionCookie(opts, cookies)
    this.#stored = new StoredReader(opts)
    this.#loader = new SessionLoader(opts, this.#stored, () => this.emptyData())
    this.#writer = new SessionWriter(opts, this.#stored, () => this.emptyData())
    this.#legacy = opts.legacy === null ? null : new LegacyImporter(opts, this.#loader, this.#stored, async (state, now) => await this.#writer.createImported(state, now), () => this.emptyData())
  }

  get options (): ResolvedOptions {
    return this.#opts
  }

  /** the schema gives {} for {}: no defaults to work out per session */
  #bareEmpty: boolean | null = null

  /** a new session's data: {} through the schema (validated at startup to succeed) */
  emptyData (): Record<string, unknown> {
    if (this.#bareEmpty === true) return {}
    const result = this.schema.safeParse({})
    const data = result.success ? result.data as Record<string, unknown> : {}
    // twice in a row, so that a default worked out per call (a timestamp, a random token) is seen
    this.#bareEmpty ??= isBare(data) && isBare((this.schema.safeParse({}) as { data?: unknown }).data)
    return data
  }

  /** save(): persists now what onSend would persist */
  async persist (state: SessionState): Promise<void> {
    await this.#writer.persist(state)
  }

  /** onRequest: a fresh session at once when there is no valid cookie; otherwise one store read. */
  load (request: FastifyRequest): Session | Promise<Session> {
    const now = Date.now()
    const inPath = this.cookie.inPath(request.url)
    const cookie = inPath ? this.cookie.read(request) : null
    return this.open(request, cookie, now, inPath)
  }

  /** A session for `cookie` (verified), or a new one; fastify.decryptSession() comes here too. */
  open (request: FastifyRequest, cookie: VerifiedCookie | null, now: number, inPath = true): Session | Promise<Session> {
    const state = freshState(request, now, cookie === null ? this.emptyData() : NO_DATA, this.#opts.idGenerator)
    const session = sessionProxy(new Session(this, state))
    if (!inPath) {
      // the browser never sends the cookie here: a session would be a new one on every request
      outsidePath(state)
      return session
    }
    if (cookie === null) {
      if (requestCookie(request, this.#opts.cookieName, this.cookie.parse) !== undefined) {
        request.log.debug('session cookie rejected (bad signature or format): fresh session')
        this.#opts.events.emitFor('rejected', state, { reason: 'signature' })
      }
      const oldId = this.#legacy !== null ? this.#legacy.oldId(request, this.cookie.parse) : null
      if (oldId === null) return session
      return this.#legacy!.import(state, oldId, now).then(() => session, (err: unknown) => {
        // either store unreachable: answered as a load's outage; anything else (onInvalidData 'error') as it is
        if (!(err instanceof errorCodes.FST_SESSION_STORE_UNAVAILABLE) || this.#opts.onStoreError !== 'anonymous') throw err
        request.log.warn({ err }, 'session store unavailable: serving an unsaved anonymous session')
        servedAnonymous(state, this.emptyData())
        return session
      })
    }
    // the empty data is only worked out when the stored session cannot be used
    return this.#loader.open(state, cookie, now, session)
  }

  /** regenerate(): new id, secret and creation time; data emptied, or only the listed keys kept */
  regenerate (state: SessionState, keep?: readonly string[]): void {
    detectNested(state)
    const kept = this.emptyData()
    if (Array.isArray(keep)) {
      for (const key of keep) if (Object.hasOwn(state.data, key) && state.data[key] !== undefined) kept[key] = state.data[key]
    }
    regenerated(state, kept)
  }

  /** destroy(): the record is deleted now, which kills every secret at once */
  async destroy (state: SessionState): Promise<void> {
    let deleted = false
    const ids = [state.stored ? state.id : null, state.previousId].filter(id => id !== null)
    const owner = state.meta.owner
    for (const id of ids) {
      if (await callStore('destroy the session', () => this.store.destroy(id))) {
        deleted = true
        this.#opts.events.emitFor('destroyed', state, { id, owner, reason: 'destroy' })
      }
    }
    // clear the cookie only when this request removed a live session: a late request must not clear a newer login's cookie
    destroyed(state, this.emptyData(), deleted)
  }

  /**
   * refresh(): this session's own idle timeout and absolute timeout ("remember me"); with regenerate,
   * a new id keeping the data and the deadlines. An idle timeout longer than the absolute one (the
   * session's own, or the app's) is refused, naming both, rather than silently cut.
   */
  refresh (state: SessionState, change: RefreshOptions, regenerate: boolean): void {
    const idle = change.idleTimeout === undefined ? idleOf(this.#opts, state.meta) : refreshDuration('idleTimeout', change.idleTimeout)
    const absolute = change.absoluteTimeout === undefined ? this.#absoluteOf(state) : refreshDuration('absoluteTimeout', change.absoluteTimeout)
    checkLifetimes(idle, absolute, 'refresh.idleTimeout', change.absoluteTimeout === undefined ? "the session's absoluteTimeout (pass refresh({ idleTimeout, absoluteTimeout }))" : 'refresh.absoluteTimeout')
    const meta = { ...state.meta }
    if (change.idleTimeout !== undefined) meta.idleTimeout = idle
    if (change.absoluteTimeout !== undefined) meta.absoluteExpiresAt = absolute === null ? null : state.createdAt + absolute
    ownLifetime(state, meta)
    if (regenerate) {
      const { createdAt } = state
      this.regenerate(state, Object.keys(state.data))
      ownLifetime(state, { idleTimeout: meta.idleTimeout, absoluteExpiresAt: meta.absoluteExpiresAt, authenticatedAt: meta.authenticatedAt }, createdAt)
    }
  }

  /** the session's absolute timeout as a duration: its own (refresh), or the app's for a session not saved yet */
  #absoluteOf (state: SessionState): number | null {
    const at = state.meta.absoluteExpiresAt
    if (at === undefined) return this.#opts.absoluteTimeout
    return at === null ? null : at - state.createdAt
  }

  /** reload(): the stored session again, unsaved changes dropped; a never-saved one becomes empty */
  async reload (state: SessionState): Promise<void> {
    const id = state.id
    if (!state.stored || id === null) {
      reloadedUnsaved(state, this.emptyData())
      return
    }
    const stored = this.#stored.read(await callStore('reload the session', () => this.store.get(id)), state.log, id)
    if (stored === undefined) startOver(state, this.emptyData())
    else reloaded(state, stored.record, stored.data.value, stored.data.migrated)
  }

  /** onSend: persist unless the response is a server error, then write the cookie and Vary. Sync when there is no store work. */
  onSend (request: FastifyRequest, reply: FastifyReply): Promise<void> | undefined {
    const session = request.session as unknown as Session | null
    if (session === null || session === undefined) return undefined
    const state = session[kState]
    const now = Date.now()
    if (this.#dropsSecureCookie(request, state)) return undefined
    if (state.anonymous && !this.#warnedOutsidePath && hasWrites(state) && !this.cookie.inPath(request.url)) {
      this.#warnedOutsidePath = true
      request.log.warn(`fastify-zod-session: a session was written on ${request.url.split('?')[0]}, outside cookie.path (${this.#opts.cookie.path}): the browser never sends the cookie there, so nothing is saved`)
    }
    if (reply.statusCode >= 500) {
      // a failed request saves nothing and deletes nothing; a session it destroyed loses its cookie
      if (cookieOwed(state, true) === 'clear') reply.header('set-cookie', this.cookie.clear(request, state.cookieOverrides))
      if (variesOnCookie(state, true)) addVaryCookie(reply)
      return undefined
    }
    const pending = this.#writer.persist(state, now, true)
    if (pending === undefined) {
      this.#headers(request, reply, state, now)
      return undefined
    }
    return pending.then(() => { this.#headers(request, reply, state, now) })
  }

  #warnedPlainHttp = false
  #warnedOutsidePath = false

  /**
   * `secure: true` on a plain-http request: the browser would drop the cookie, so a saved session
   * could never come back. Save nothing, send nothing (as @fastify/session does), and say why once.
   * Local development over http uses the default `secure: 'auto'`.
   */
  #dropsSecureCookie (request: FastifyRequest, state: SessionState): boolean {
    const secure = state.cookieOverrides?.secure ?? this.#opts.cookie.secure
    if (secure !== true || request.protocol === 'https') return false
    if (!this.#warnedPlainHttp) {
      this.#warnedPlainHttp = true
      request.log.warn('fastify-zod-session: cookie.secure is true but this request came over plain http, so browsers would drop the cookie: no session is saved. Behind a TLS-terminating proxy, set Fastify\'s trustProxy so request.protocol is https')
    }
    return true
  }

  #headers (request: FastifyRequest, reply: FastifyReply, state: SessionState, now: number): void {
    const owed = cookieOwed(state, false)
    if (owed === 'session') reply.header('set-cookie', this.cookie.serialize(request, state.id as string, state.secret as string, state.expiresAt, now, state.cookieOverrides))
    else if (owed === 'clear') reply.header('set-cookie', this.cookie.clear(request, state.cookieOverrides))
    // an imported @fastify/session cookie, or one that opens nothing any more (a 5xx keeps it: the import is joined again)
    if (state.clearLegacy !== null) reply.header('set-cookie', this.cookie.clear(request, state.cookieOverrides, state.clearLegacy))
    if (variesOnCookie(state, false)) addVaryCookie(reply)
  }
}

function refreshDuration (name: string, value: Duration | null): number | null {
  if (value === null) return null
  const ms = toMs(value)
  if (ms === undefined || ms === 0) throw new errorCodes.FST_SESSION_INVALID_OPTIONS(`refresh.${name}`, `${String(value)} is not a duration (seconds, or a string like '30d')`)
  return ms
}
