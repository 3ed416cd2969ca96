import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, onCloseAsyncHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { fastifyCookie } from '@fastify/cookie'
import type { FastifyZodSessionOptions, SessionStore } from '../types/index.js'
// Inside `declare module 'fastify'` a name means fastify's own declaration first, and an app migrating from
// @fastify/session may still declare `interface Session` there (its typing recipe): named `Session`, ours
// would be replaced by it (TS2315, or request.session silently `any` under skipLibCheck). So the block below
// only uses names no app declares in fastify.
import type * as ZodSessionTypes from '../types/index.js'
import type { Session as ZodSession } from './session.js'
import { resolveOptions, type ResolvedOptions } from './options.js'
import { openStoreUrl, type OpenedStore } from '../stores/url/open.js'
import { isStoreUrl, type StoreUrl } from '../stores/url/parse.js'
import { errorCodes, storeError } from './errors.js'
import { SessionManager } from './manager.js'
import type { CookieCodec } from './cookie.js'
import { RequestSessionStore, type RequestSessionStore as ZodRequestSessionStore } from './store-view.js'
import { walkBound, withTimeout } from './store-timeout.js'
import { sealedStore } from './sealed-store.js'
import { createSessionsApi } from './sessions-api.js'
import { addFreshnessCheck } from './freshness.js'
import { schedulePrunes, watchExpiries } from './upkeep.js'
import { decryptSessionDecorator, loadSessionHook, saveSessionHook } from './hooks.js'

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

/** The store the options name: a storage URL opened (its client made here), or the app's store made ready. */
async function openStore (resolved: ResolvedOptions<SessionStore | StoreUrl>): Promise<{ store: SessionStore, opened: OpenedStore | null }> {
  try {
    if (isStoreUrl(resolved.store)) {
      const opened = await openStoreUrl(resolved.store)
      return { store: opened.store, opened }
    }
    await resolved.store.ready?.()
    return { store: resolved.store, opened: null }
  } catch (err) {
    const where = isStoreUrl(resolved.store) ? ` ${resolved.store.redacted}` : ''
    throw storeError(`open the store${where}: ${(err as Error).message}`, err)
  }
}

/** closing a store releases what it opened itself (files, locks, its own clients), never a client it was given; a store opened from a URL also closes the client made for it */
function closeStoreHook (store: SessionStore, opened: OpenedStore | null): onCloseAsyncHookHandler {
  return async function closeStore () { await (opened === null ? store.close?.() : opened.close()) }
}

// options → decorators → hooks
async function sessionCore (fastify: FastifyInstance, options: FastifyZodSessionOptions, cookies: CookieCodec): Promise<void> {
  const resolved = resolveOptions(options)
  const { store, opened } = await openStore(resolved)
  if (resolved.maxSessionsPerOwner !== null && typeof store.listByOwner !== 'function') {
    await opened?.close()
    throw new errorCodes.FST_SESSION_INVALID_OPTIONS('maxSessionsPerOwner', `${store.constructor.name} cannot list sessions by owner`)
  }
  // requests see the store through storeTimeout; fastify.sessionStore is the store itself. A synchronous
  // store (MemoryStore) answers in the same tick: nothing to wait for, and the wrapper's extra promise was
  // ~7% of a read
  const timed = resolved.storeTimeout !== null && store.synchronous !== true
  const bounded = timed ? withTimeout(store, resolved.storeTimeout as number) : store
  const sealed = resolved.encryption === null ? null : sealedStore(bounded, resolved.encryption, fastify.log)
  const opts = { ...resolved, store: sealed?.store ?? bounded, resealDue: sealed?.resealDue ?? null } as ResolvedOptions
  const manager = new SessionManager(opts, cookies)

  fastify.decorate('sessionStore', store)
  fastify.decorate('sessions', createSessionsApi(opts.store, opts.owner !== null, opts.events, fastify.log, timed ? walkBound(opts.storeTimeout) : null))
  fastify.decorateRequest('session', null as never)
  fastify.decorateRequest('sessionStore', { getter (this: FastifyRequest) { return new RequestSessionStore(manager, this) } })
  fastify.decorate('decryptSession', decryptSessionDecorator(fastify, manager))

  fastify.addHook('onRoute', addFreshnessCheck)
  fastify.addHook('onRequest', loadSessionHook(manager))
  fastify.addHook('onSend', saveSessionHook(manager))
  if (typeof store.watchExpired === 'function' && opts.events.listens('expired')) await watchExpiries(fastify, store, opts)
  if (opts.pruneInterval !== null && typeof store.prune === 'function') schedulePrunes(fastify, store, opts)
  fastify.addHook('onClose', closeStoreHook(store, opened))
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
