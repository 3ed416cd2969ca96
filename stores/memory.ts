import type { SessionPatch, SessionRecord, SessionStore, SessionMeta } from '../types/index.js'
import { stringify, parse } from '../lib/codec.js'

export interface MemoryStoreOptions {
  /** most sessions kept; the least recently used is evicted beyond it (default 10,000) */
  maxEntries?: number
  /** key prefix, for several stores sharing nothing but a name space (default '') */
  prefix?: string
}

interface Entry {
  /** data serialized through the codec: hands out copies and keeps Dates */
  data: string
  createdAt: number
  expiresAt: number | null
  meta: SessionMeta
}

let warnedProduction = false

/** Sessions in this process's memory: for development, tests and single-process apps. */
export class MemoryStore implements SessionStore {
  readonly #entries = new Map<string, Entry>()
  readonly #owners = new Map<string, Set<string>>()
  readonly #maxEntries: number
  readonly #prefix: string

  constructor (options: MemoryStoreOptions = {}) {
    const max = options.maxEntries ?? 10_000
    if (!Number.isInteger(max) || max < 1) throw new TypeError('MemoryStore: maxEntries must be a positive integer')
    this.#maxEntries = max
    this.#prefix = options.prefix ?? ''
    if (process.env.NODE_ENV === 'production' && !warnedProduction) {
      warnedProduction = true
      process.emitWarning('MemoryStore keeps sessions in one process and loses them on restart; use a persistent store in production.',
        { code: 'FST_SESSION_MEMORY_STORE' })
    }
  }

  /** how many sessions are held, expired ones included until pruned */
  get size (): number {
    return this.#entries.size
  }

  #live (id: string, now = Date.now()): Entry | undefined {
    const key = this.#prefix + id
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== null && entry.expiresAt <= now) {
      this.#remove(key, entry)
      return undefined
    }
    return entry
  }

  #remove (key: string, entry: Entry): void {
    this.#entries.delete(key)
    this.#unindex(key, entry.meta.owner)
  }

  #unindex (key: string, owner: string | undefined): void {
    if (owner === undefined) return
    const keys = this.#owners.get(owner)
    keys?.delete(key)
    if (keys?.size === 0) this.#owners.delete(owner)
  }

  #store (key: string, entry: Entry, previousOwner: string | undefined): void {
    // delete first so that Map order is recency order (least recent first)
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    if (previousOwner !== entry.meta.owner) {
      this.#unindex(key, previousOwner)
      if (entry.meta.owner !== undefined) {
        let keys = this.#owners.get(entry.meta.owner)
        if (keys === undefined) this.#owners.set(entry.meta.owner, keys = new Set())
        keys.add(key)
      }
    }
    while (this.#entries.size > this.#maxEntries) {
      const [oldest, old] = this.#entries.entries().next().value as [string, Entry]
      this.#remove(oldest, old)
    }
  }

  async get (id: string): Promise<SessionRecord | undefined> {
    const entry = this.#live(id)
    if (entry === undefined) return undefined
    const key = this.#prefix + id
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return { data: parse(entry.data), createdAt: entry.createdAt, expiresAt: entry.expiresAt, meta: { ...entry.meta } }
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    const key = this.#prefix + id
    const previous = this.#entries.get(key)
    this.#store(key, {
      data: stringify(record.data),
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      meta: { ...record.meta }
    }, previous?.meta.owner)
  }

  async patch (id: string, change: SessionPatch): Promise<boolean> {
    const entry = this.#live(id)
    if (entry === undefined) return false
    const data = parse(entry.data)
    Object.assign(data, parse(stringify(change.set)))
    for (const k of change.unset) delete data[k]
    const meta = change.meta === undefined ? entry.meta : { ...entry.meta, ...change.meta }
    this.#store(this.#prefix + id, { data: stringify(data), createdAt: entry.createdAt, expiresAt: change.expiresAt, meta }, entry.meta.owner)
    return true
  }

  async touch (id: string, expiresAt: number | null): Promise<void> {
    const entry = this.#live(id)
    if (entry !== undefined) entry.expiresAt = expiresAt
  }

  async destroy (id: string): Promise<void> {
    const key = this.#prefix + id
    const entry = this.#entries.get(key)
    if (entry !== undefined) this.#remove(key, entry)
  }

  async prune (): Promise<number> {
    const now = Date.now()
    let removed = 0
    for (const [key, entry] of this.#entries) {
      if (entry.expiresAt !== null && entry.expiresAt <= now) {
        this.#remove(key, entry)
        removed++
      }
    }
    return removed
  }

  async listByOwner (owner: string): Promise<string[]> {
    const now = Date.now()
    const ids: string[] = []
    for (const key of this.#owners.get(owner) ?? []) {
      const entry = this.#entries.get(key)
      if (entry !== undefined && (entry.expiresAt === null || entry.expiresAt > now)) ids.push(key.slice(this.#prefix.length))
    }
    return ids
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    let removed = 0
    for (const id of await this.listByOwner(owner)) {
      if (id === except) continue
      await this.destroy(id)
      removed++
    }
    return removed
  }

  async close (): Promise<void> {
    this.#entries.clear()
    this.#owners.clear()
  }
}
