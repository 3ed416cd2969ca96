import type { FastifyBaseLogger } from 'fastify'
import type { SessionInfo, SessionsApi, SessionStore } from '../types/index.js'
import { errorCodes, storeError } from './errors.js'
import { pruneOptions, type SessionEvents } from './events.js'

/** fastify.sessions: per-owner listing and "log out everywhere", and pruning on demand. */
export function createSessionsApi (store: SessionStore, ownerConfigured: boolean, events: SessionEvents, log: FastifyBaseLogger): SessionsApi {
  function requireOwners (): void {
    if (!ownerConfigured) throw new errorCodes.FST_SESSION_OWNER_UNSUPPORTED('set the plugin\'s `owner` option to a function of the session data')
    if (typeof store.listByOwner !== 'function' || typeof store.destroyByOwner !== 'function') {
      throw new errorCodes.FST_SESSION_OWNER_UNSUPPORTED(`${store.constructor.name} cannot list sessions by owner`)
    }
  }

  return {
    async list (owner: string): Promise<SessionInfo[]> {
      requireOwners()
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
        return await store.prune(pruneOptions(events, log))
      } catch (err) {
        throw storeError('prune sessions', err)
      }
    }
  }
}
