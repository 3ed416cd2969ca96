import type { SessionMeta, SessionPatch, SessionRecord } from '../types/index.js'
import { parse, stringify } from './codec.js'

interface Entry {
  /** data serialized through the codec: hands out copies and keeps Dates */
  data: string
  createdAt: number
  expiresAt: number | null
  meta: SessionMeta
}

const expired = (entry: Entry, now: number): boolean => entry.expiresAt !== null && entry.expiresAt <= now

/**
 * Sessions in a Map with an owner index: MemoryStore's storage and FileStore's in-memory state.
 * Bounded by maxEntries with least-recently-used eviction. Returns copies, never references.
 */
export class SessionIndex {
  readonly #entries = new Map<string, Entry>()
  readonly #owners = new Map<string, Set<string>>()
  readonly #maxEntries: number

  constructor (maxEntries = Infinity) {
    this.#maxEntries = maxEntries
  }

  /** sessions held, expired ones included until pruned */
  get size (): number {
    return this.#entries.size
  }

  #live (key: string, now = Date.now()): Entry | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined || !expired(entry, now)) return entry
    this.#remove(key, entry)
    return undefined
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

  get (key: string): SessionRecord | undefined {
    const entry = this.#live(key)
    if (entry === undefined) return undefined
    if (this.#maxEntries !== Infinity) {
      this.#entries.delete(key)
      this.#entries.set(key, entry)
    }
    return { data: parse(entry.data), createdAt: entry.createdAt, expiresAt: entry.expiresAt, meta: { ...entry.meta } }
  }

  set (key: string, record: SessionRecord): void {
    const previous = this.#entries.get(key)
    const entry = { data: stringify(record.data), createdAt: record.createdAt, expiresAt: record.expiresAt, meta: { ...record.meta } }
    this.#store(key, entry, previous?.meta.owner)
  }

  /** merges top-level keys; false when the session is missing or expired */
  patch (key: string, change: SessionPatch): boolean {
    const entry = this.#live(key)
    if (entry === undefined) return false
    const data = parse(entry.data)
    Object.assign(data, change.set)
    for (const k of change.unset) delete data[k]
    const meta = change.meta === undefined ? entry.meta : { ...entry.meta, ...change.meta }
    this.#store(key, { data: stringify(data), createdAt: entry.createdAt, expiresAt: change.expiresAt, meta }, entry.meta.owner)
    return true
  }

  touch (key: string, expiresAt: number | null): boolean {
    const entry = this.#live(key)
    if (entry === undefined) return false
    entry.expiresAt = expiresAt
    return true
  }

  destroy (key: string): boolean {
    const entry = this.#entries.get(key)
    if (entry === undefined) return false
    this.#remove(key, entry)
    return true
  }

  prune (): number {
    const now = Date.now()
    let removed = 0
    for (const [key, entry] of this.#entries) {
      if (expired(entry, now)) {
        this.#remove(key, entry)
        removed++
      }
    }
    return removed
  }

  /** live keys of an owner, with `prefix` stripped (only keys under it) */
  listByOwner (owner: string, prefix = ''): string[] {
    const now = Date.now()
    const ids: string[] = []
    for (const key of this.#owners.get(owner) ?? []) {
      const entry = this.#entries.get(key)
      if (entry !== undefined && !expired(entry, now) && key.startsWith(prefix)) ids.push(key.slice(prefix.length))
    }
    return ids
  }

  /** live sessions under `prefix` and their count per owner; rotation pointers are not sessions */
  stats (prefix = ''): { sessions: number, owners: Record<string, number> } {
    const now = Date.now()
    const owners: Record<string, number> = {}
    let sessions = 0
    for (const [key, entry] of this.#entries) {
      if (expired(entry, now) || !key.startsWith(prefix) || entry.meta.rotatedTo !== undefined) continue
      sessions++
      if (entry.meta.owner !== undefined) owners[entry.meta.owner] = (owners[entry.meta.owner] ?? 0) + 1
    }
    return { sessions, owners }
  }

  /** every live session as [key, record], expired ones dropped on the way */
  liveRecords (): Array<[string, SessionRecord]> {
    this.prune()
    return [...this.#entries].map(([key, e]) => [key, { data: parse(e.data), createdAt: e.createdAt, expiresAt: e.expiresAt, meta: e.meta }])
  }

  clear (): void {
    this.#entries.clear()
    this.#owners.clear()
  }
}
