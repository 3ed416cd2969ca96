import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { fastifyCookie } from '@fastify/cookie'
import type { ExpiryWatch, FastifyZodSessionOptions, SessionStore } from '../types/index.js'
// Inside `declare module 'fastify'` a name means fastify's own declaration first, and an app migrating from
// @fastify/session may still declare `interface Session` there (its typing recipe): named `Session`, ours
// would be replaced by it (TS2315, or request.session silently `any` under skipLibCheck). So the block below
// only uses names no app declares in fastify.
import type * as ZodSessionTypes from '../types/index.js'
import type { Session as ZodSession } from './session.js'
import { resolveOptions, type ResolvedOptions } from './options.js'
import { openStoreUrl, type OpenedStore } from '../stores/url/open.js'
import { isStoreUrl } from '../stores/url/parse.js'
import { errorCodes, storeError } from './errors.js'
import { SessionManager } from './manager.js'
import type { CookieCodec } from './cookie.js'
import { RequestSessionStore, type RequestSessionStore as ZodRequestSessionStore } from './store-view.js'
import { bounded, deadline, StoreTimeoutError, walkBound, withTimeout } from './store-timeout.js'
import { createSessionsApi } from './sessions-api.js'
import { addFreshnessCheck } from './freshness.js'
import { pruneOptions, reportExpired } from './events.js'

declare module 'fastify' {
  interface FastifyRequest {
    session: ZodSession<ZodSessionTypes.SessionData>
    /**
     * @fastify/session's request.sessionStore: get/set/destroy(sessionId, callback?) by the id the app
     * sees, with callbacks or promises; fastify.sessionStore is the store itself
     */
    sessionStore: ZodRequestSessionStore
  }
  interface FastifyContextConfig {
    session?: {
      /** step-up freshness: the login (the session's last regenerate()) must be at most this old, or FST_SESSION_NOT_FRESH (401) */
      fresh?: ZodSessionTypes.Duration
    }
  }
  interface FastifyInstance {
    sessionStore: ZodSessionTypes.SessionStore
    sessions: ZodSessionTypes.SessionsApi
    /**
     * @fastify/session's decryptSession: loads the session a signed cookie value names into
     * `request.session` (a new one when it names none), e.g. to authenticate a WebSocket upgrade
     */
    decryptSession: ((cookieValue: string, request: FastifyRequest, callback: (err?: Error | null) => void) => void) &
    ((cookieValue: string, request: FastifyRequest, cookieOptions: Record<string, unknown>, callback: (err?: Error | null) => void) => void)
  }
}

/**
 * `done` throws when the reply was already sent by someone else (a hook that sent without returning
 * the reply, as @fastify/passport's redirects do): nothing may escape a promise chain as an unhandled
 * rejection, which would end the process.
 */
function finish (request: FastifyRequest, done: () => void): void {
  try {
    done()
  } catch (err) {
    request.log.warn({ err }, 'session hook finished after the reply was sent')
  }
}

/**
 * `expired` events for sessions the backend times out by itself (Redis), for as long as the app runs.
 * Where the backend cannot tell, the app still starts and says why. An unreachable store does not hold
 * up app.ready() longer than storeTimeout: the watch then starts whenever the store answers.
 */
async function watchExpiries (fastify: FastifyInstance, store: SessionStore, opts: ResolvedOptions): Promise<void> {
  let watch: ExpiryWatch | null = null
  let closed = false
  fastify.addHook('onClose', async () => {
    closed = true
    await watch?.stop()
  })
  const started = store.watchExpired!(reportExpired(opts.events, fastify.log)).then(async w => {
    if (w.notice !== undefined) fastify.log.warn(w.notice)
    if (closed) await w.stop()
    else watch = w
  }, (err: unknown) => {
    fastify.log.warn({ err }, 'session expiry notifications unavailable: sessions timing out in the store raise no \'expired\' event')
  })
  const ms = opts.storeTimeout ?? 10_000
  await deadline(started, ms, 'watchExpired').catch(() => {
    fastify.log.warn(`session expiry notifications did not start within ${ms} ms (store unreachable?): they start when it answers`)
  })
}

/**
 * store.prune() every pruneInterval, one at a time: a tick while the last prune has not answered is skipped,
 * so a hung store never piles prunes up. Its wait is bounded like fastify.sessions.prune()'s (walkBound);
 * past it a warning says so, and the ticks go on skipping until it answers.
 */
function schedulePrunes (fastify: FastifyInstance, store: SessionStore, opts: ResolvedOptions): void {
  const ms = walkBound(opts.storeTimeout)
  let inFlight = false
  const timer = setInterval(() => {
    if (inFlight) {
      fastify.log.debug('session prune skipped: the previous one has not answered yet')
      return
    }
    inFlight = true
    const call = store.prune!(pruneOptions(opts.events, fastify.log))
    const settled = (): void => { inFlight = false }
    call.then(settled, settled)
    bounded(call, ms, 'prune').then(
      removed => { if (removed > 0) fastify.log.debug({ removed }, 'pruned expired sessions') },
      err => {
        if (err instanceof StoreTimeoutError) fastify.log.warn({ err }, `session prune got no answer within ${ms as number} ms: the next prunes wait until it answers`)
        else fastify.log.warn({ err }, 'session prune failed')
      }
    )
  }, opts.pruneInterval as number)
  timer.unref()
  fastify.addHook('onClose', async () => { clearInterval(timer) })
}

// options → decorators → hooks
async function sessionCore (fastify: FastifyInstance, options: FastifyZodSessionOptions, cookies: CookieCodec): Promise<void> {
  const resolved = resolveOptions(options)
  let opened: OpenedStore | null = null
  try {
    if (isStoreUrl(resolved.store)) opened = await openStoreUrl(resolved.store)
    else await resolved.store.ready?.()
  } catch (err) {
    const where = isStoreUrl(resolved.store) ? ` ${resolved.store.redacted}` : ''
    throw storeError(`open the store${where}: ${(err as Error).message}`, err)
  }
  const store = opened === null ? resolved.store as SessionStore : opened.store
  // requests see the store through storeTimeout; fastify.sessionStore is the store itself. MemoryStore
  // answers from this process's memory in the same tick: nothing to wait for, and the wrapper's extra
  // promise was ~7% of a read
  if (resolved.maxSessionsPerOwner !== null && typeof store.listByOwner !== 'function') {
    await opened?.close()
    throw new errorCodes.FST_SESSION_INVALID_OPTIONS('maxSessionsPerOwner', `${store.constructor.name} cannot list sessions by owner`)
  }
  const timed = resolved.storeTimeout !== null && store.synchronous !== true
  const opts = { ...resolved, store: timed ? withTimeout(store, resolved.storeTimeout as number) : store } as ResolvedOptions
  const manager = new SessionManager(opts, cookies)

  fastify.decorate('sessionStore', store)
  fastify.decorate('sessions', createSessionsApi(opts.store, opts.owner !== null, opts.events, fastify.log, timed ? walkBound(opts.storeTimeout) : null))
  fastify.decorateRequest('session', null as never)
  fastify.decorateRequest('sessionStore', { getter (this: FastifyRequest) { return new RequestSessionStore(manager, this) } })
  fastify.decorate('decryptSession', function decryptSession (value: string, request: FastifyRequest, optionsOrCallback: unknown, maybeCallback?: unknown) {
    const given = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as (err?: Error | null) => void
    // a callback that throws (a WebSocket handler refusing the socket) must not become an unhandled rejection
    const callback = (err?: Error | null): void => {
      try {
        given(err)
      } catch (thrown) {
        fastify.log.error({ err: thrown }, 'the decryptSession() callback threw')
      }
    }
    let opened: ReturnType<SessionManager['open']>
    try {
      opened = manager.open(request, manager.cookie.verify(value), Date.now())
    } catch (err) {
      callback(err as Error)
      return
    }
    Promise.resolve(opened).then(session => { request.session = session as never; callback() }, callback)
  } as FastifyInstance['decryptSession'])

  fastify.addHook('onRoute', addFreshnessCheck)

  // callback hooks with synchronous fast paths: a request with no store work allocates no promise
  fastify.addHook('onRequest', (request, _reply, done) => {
    let loaded: ReturnType<SessionManager['load']>
    try {
      loaded = manager.load(request)
    } catch (err) {
      done(err as Error)
      return
    }
    if (!(loaded instanceof Promise)) {
      request.session = loaded as never
      done()
      return
    }
    // one reaction, no .catch() promise: this is every stored session's path
    loaded.then(
      session => { request.session = session as never; finish(request, done) },
      (err: Error) => { finish(request, () => { done(err) }) }
    )
  })
  fastify.addHook('onSend', (request, reply, payload, done) => {
    let pending: Promise<void> | undefined
    try {
      pending = manager.onSend(request, reply)
    } catch (err) {
      done(err as Error)
      return
    }
    if (pending === undefined) done(null, payload)
    else {
      pending.then(
        () => { finish(request, () => { done(null, payload) }) },
        (err: Error) => { finish(request, () => { done(err) }) }
      )
    }
  })

  if (typeof store.watchExpired === 'function' && opts.events.listens('expired')) await watchExpiries(fastify, store, opts)
  if (opts.pruneInterval !== null && typeof store.prune === 'function') schedulePrunes(fastify, store, opts)
  // closing a store releases what it opened itself (files, locks, its own clients), never a client it
  // was given; a store opened from a URL also closes the client made for it
  fastify.addHook('onClose', async () => { await (opened === null ? store.close?.() : opened.close()) })
}

/**
 * Cookies go through the app's @fastify/cookie when it registered one before this plugin (its copy,
 * its parse options). Otherwise through one registered in a context of our own: nothing is decorated
 * at the app's level, so the app can still register @fastify/cookie after this plugin.
 */
async function cookieCodec (fastify: FastifyInstance): Promise<CookieCodec> {
  if (fastify.hasPlugin('@fastify/cookie')) return { serialize: fastify.serializeCookie, parse: fastify.parseCookie }
  let codec: CookieCodec | undefined
  await fastify.register(async function sessionCookies (own) {
    await own.register(fastifyCookie)
    codec = { serialize: own.serializeCookie, parse: own.parseCookie }
  })
  return codec as CookieCodec
}

const fastifyZodSession: FastifyPluginAsync<FastifyZodSessionOptions> = async (fastify, options) => {
  await sessionCore(fastify, options, await cookieCodec(fastify))
}

export default fp(fastifyZodSession, { fastify: '5.x', name: 'fastify-zod-session' })
