// maxSessionsPerOwner: at most `limit` live sessions per owner, enforced when a session is saved with
// a new owner (a login, with or without regenerate()). Parallel logins converge without a lock: every request orders the owner's
// sessions the same way (oldest first; ties by the microsecond creation time, then by id) and removes those beyond the limit in that order;
// the request that saved last sees every session, and a session kept by the whole set's order is kept
// by any part of it, so nobody removes one that should stay.
import type { SessionRecord, SessionStore } from '../types/index.js'
import type { SessionEvents } from './events.js'
import { errorCodes } from './errors.js'
import type { OwnerLimitOptions } from './options.js'
import { callStore } from './store-call.js'
import type { SessionState } from './state.js'
import { isLive } from '../stores/kit/record.js'

interface Live { id: string, record: SessionRecord }

export class OwnerLimit {
  readonly #store: SessionStore
  readonly #options: OwnerLimitOptions
  readonly #events: SessionEvents

  constructor (store: SessionStore, options: OwnerLimitOptions, events: SessionEvents) {
    this.#store = store
    this.#options = options
    this.#events = events
  }

  /**
   * refuse: a login over the limit is refused before its session is saved. The session a re-login
   * replaces (`state.previousId`, deleted once the login is saved) is not counted, here or after.
   */
  async before (owner: string, state: SessionState): Promise<void> {
    if (this.#options.policy !== 'refuse') return
    const live = await this.#live(owner, state.previousId)
    if (live.length >= this.#options.limit) throw new errorCodes.FST_SESSION_LIMIT(this.#options.limit)
  }

  /** after the save: remove the sessions beyond the limit; refuse when this login is one of them */
  async after (owner: string, self: string, state: SessionState): Promise<void> {
    const { limit, policy } = this.#options
    const live = await this.#live(owner, state.previousId)
    if (live.length <= limit) return
    // refuse: the first `limit` in the shared order keep their place and the newest go (this login, or
    // one that raced it and was checked before this one was saved); evict: the oldest go
    const going = policy === 'refuse' ? live.slice(limit) : live.slice(0, live.length - limit)
    for (const { id } of going) {
      if (await callStore('evict a session over the owner limit', () => this.#store.destroy(id))) {
        this.#events.emitFor('destroyed', state, { id, owner, reason: 'limit' })
      }
    }
    if (policy === 'refuse' && going.some(s => s.id === self)) throw new errorCodes.FST_SESSION_LIMIT(limit)
  }

  /** the owner's live sessions but `replaced`, in the order every request agrees on: first to go first */
  async #live (owner: string, replaced: string | null): Promise<Live[]> {
    const ids = (await callStore('list the owner\'s sessions', () => this.#store.listByOwner!(owner))).filter(id => id !== replaced)
    const records = await Promise.all(ids.map(async id => ({ id, record: await callStore('read the owner\'s sessions', () => this.#store.get(id)) })))
    const now = Date.now()
    const live = records.filter((s): s is Live => s.record !== undefined && isLive(s.record, now) && s.record.meta.owner === owner)
    const at = this.#options.policy === 'evictIdlest'
      ? (r: SessionRecord) => r.meta.lastAccessAt ?? r.createdAt
      : (r: SessionRecord) => r.createdAt
    // ties within a millisecond go by the microsecond creation time, so a session saved before a
    // login began always ranks before it; then by id
    const hr = (r: SessionRecord) => r.meta.createdAtHr ?? r.createdAt
    return live.sort((a, b) => at(a.record) - at(b.record) || hr(a.record) - hr(b.record) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }
}
