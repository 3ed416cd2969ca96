import type { PatchResult, PruneOptions, SessionAuth, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { SessionIndex } from './kit/session-index.js'
import { expiredReport } from './kit/expired-report.js'
import { positive, type OpenedFromUrl, type StoreUrl } from './kit/url.js'

export interface MemoryStoreOptions {
  /** most sessions kept; the least recently used is evicted beyond it (default 10,000) */
  maxEntries?: number
  /** key prefix (default '') */
  prefix?: string
}

let warnedProduction = false

/** Sessions in this process's memory: for development, tests and single-process apps. */
export class MemoryStore implements SessionStore {
  readonly #index: SessionIndex
  readonly #prefix: string

  constructor (options: MemoryStoreOptions = {}) {
    const max = options.maxEntries ?? 10_000
    if (!Number.isInteger(max) || max < 1) throw new TypeError('MemoryStore: maxEntries must be a positive integer')
    this.#index = new SessionIndex(max, true)
    this.#prefix = options.prefix ?? ''
    if (process.env.NODE_ENV === 'production' && !warnedProduction) {
      warnedProduction = true
      process.emitWarning('MemoryStore keeps sessions in one process and loses them on restart; use a persistent store in production.',
        { code: 'FST_SESSION_MEMORY_STORE' })
    }
  }

  /** every call completes in this process before it returns: the plugin does not bound it with `storeTimeout` */
  get synchronous (): boolean {
    return true
  }

  /** how many sessions are held, expired ones included until pruned */
  get size (): number {
    return this.#index.size
  }

  async get (id: string): Promise<SessionRecord | undefined> {
    // records never leave this process: the plugin need not check them again (see SessionIndex)
    return this.#index.get(this.#prefix + id)
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    this.#index.set(this.#prefix + id, record)
  }

  async create (id: string, record: SessionRecord): Promise<boolean> {
    return this.#index.create(this.#prefix + id, record)
  }

  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    return this.#index.patch(this.#prefix + id, change)
  }

  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    return this.#index.rotate(this.#prefix + id, from, auth)
  }

  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    return this.#index.touch(this.#prefix + id, expiresAt)
  }

  async destroy (id: string): Promise<boolean> {
    return this.#index.destroy(this.#prefix + id)
  }

  async prune (options?: PruneOptions): Promise<number> {
    const total = this.#index.size
    const expired = expiredReport(this.#prefix, options)
    const removed = this.#index.prune(expired?.collect)
    options?.onProgress?.(total, total)
    expired?.report()
    return removed
  }

  async stats (): Promise<SessionStats> {
    return this.#index.stats(this.#prefix)
  }

  async listByOwner (owner: string): Promise<string[]> {
    return this.#index.listByOwner(owner, this.#prefix)
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    let removed = 0
    for (const id of this.#index.listByOwner(owner, this.#prefix)) {
      if (id === except) continue
      if (this.#index.destroy(this.#prefix + id)) removed++
    }
    return removed
  }

  async close (): Promise<void> {
    this.#index.clear()
  }
}

/** @internal The store a storage URL names (`memory://`): stores/url/open.ts calls it, with the URL parse checked. */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  return { store: new MemoryStore({ maxEntries: positive(url.params.maxEntries), prefix: url.params.prefix }) }
}
