import type { FastifyBaseLogger } from 'fastify'
import type { SessionInfo, SessionsApi, SessionStats, SessionStore } from '../types/index.js'
import { errorCodes, storeError } from './errors.js'
import { pruneOptions, type SessionEvents } from './events.js'
import { bounded } from './store-timeout.js'
import { stringRefusal } from './json-value.js'

/**
 * fastify.sessions: per-owner listing and "log out everywhere", pruning and counting on demand. `store` is
 * the store as requests see it (each call of list and revoke bounded by storeTimeout); `walk` bounds the
 * calls that walk the whole store (prune, stats): null for none.
 */
export function createSessionsApi (store: SessionStore, ownerConfigured: boolean, events: SessionEvents, log: FastifyBaseLogger, walk: number | null): SessionsApi {
  function requireOwners (): void {
    if (!ownerConfigured) throw new errorCodes.FST_SESSION_OWNER_UNSUPPORTED('set the plugin\'s `owner` option to a function of the session data')
    if (typeof store.listByOwner !== 'function' || typeof store.destroyByOwner !== 'function') {
      throw new errorCodes.FST_SESSION_OWNER_UNSUPPORTED(`${store.constructor.name} cannot list sessions by owner`)
    }
  }

  /** an owner no session can have (set() refuses NUL and lone surrogates): some stores could not even be asked */
  const impossible = (owner: unknown): boolean => typeof owner !== 'string' || stringRefusal(owner) !== undefined

  return {
    async list (owner: string): Promise<SessionInfo[]> {
      requireOwners()
      if (impossible(owner)) return []
      try {
        const ids = await store.listByOwner!(owner)
        const records = await Promise.all(ids.map(async id => [id, await store.get(id)] as const))
        const sessions: SessionInfo[] = []
        for (const [id, r] of records) {
          if (r === undefined || r.meta.owner !== owner) continue
          sessions.push({ id, createdAt: r.createdAt, expiresAt: r.expiresAt, ip: r.meta.ip, userAgent: r.meta.userAgent, lastAccessAt: r.meta.lastAccessAt, lastAccessIp: r.meta.lastAccessIp })
        }
        return sessions.sort((a, b) => (b.lastAccessAt ?? b.createdAt) - (a.lastAccessAt ?? a.createdAt))
      } catch (err) {
        throw storeError('list sessions', err)
      }
    },

    async revoke (owner, options = {}): Promise<number> {
      requireOwners()
      const except = options.except === undefined ? undefined : typeof options.except === 'string' ? options.except : options.except.id
      if (impossible(owner)) return 0
      let count: number
      try {
        count = await store.destroyByOwner!(owner, except)
      } catch (err) {
        throw storeError('revoke sessions', err)
      }
      events.emit('revoked', { owner, count, reason: except === undefined ? 'all' : 'others' }, log)
      return count
    },

    async prune (): Promise<number> {
      if (typeof store.prune !== 'function') return 0
      try {
        return await bounded(store.prune(pruneOptions(events, log)), walk, 'prune')
      } catch (err) {
        throw storeError('prune sessions', err)
      }
    },

    async stats (): Promise<SessionStats> {
      if (typeof store.stats !== 'function') throw new errorCodes.FST_SESSION_UNSUPPORTED(`${store.constructor.name} cannot count its sessions`)
      try {
        return await bounded(store.stats(), walk, 'stats')
      } catch (err) {
        throw storeError('count sessions', err)
      }
    }
  }
}
