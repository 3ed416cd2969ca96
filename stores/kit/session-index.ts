import type { PatchResult, SessionAuth, SessionMeta, SessionPatch, SessionRecord } from '../../types/index.js'
import { parse, stringify } from './codec.js'
import { CheckedRecord, dataObject, mergeMeta, writtenAfter } from './record.js'
import { copyTree } from './json-tree.js'

interface Entry {
  /** each top-level data key serialized through the codec: compact, keeps Dates, and a patch
   * re-serializes only the keys it changes */
  data: Map<string, string>
  /** keys parsed by an earlier read: a read hands out copies of these (a copy costs a quarter of a
   * parse); made on the first read, so sessions never read cost no more memory */
  parsed: Map<string, unknown> | null
  createdAt: number
  expiresAt: number | null
  version: number
  auth: SessionAuth
  meta: SessionMeta
  /** the data's size as maxBytes measures it; null until a patch with maxBytes needs it */
  bytes: number | null
}

const textSize = (key: string, text: string): number => Buffer.byteLength(key) + Buffer.byteLength(text)

function dataBytes (data: Map<string, string>): number {
  let bytes = 0
  for (const [k, text] of data) bytes += textSize(k, text)
  return bytes
}

function encode (data: Record<string, unknown>): Map<string, string> {
  const out = new Map<string, string>()
  for (const k of Object.keys(data)) if (data[k] !== undefined) out.set(k, stringify(data[k]))
  return out
}

/** `keep`: remember what was parsed (a request's read; not a dump of every session) */
function decode (entry: Entry, keep: boolean): Record<string, unknown> {
  const out = dataObject()
  const parsed = keep ? entry.parsed ??= new Map() : entry.parsed
  for (const [k, text] of entry.data) {
    let value = parsed?.get(k)
    if (value === undefined) {
      value = parse(text)
      if (!keep || parsed === null) {
        out[k] = value // a fresh parse is the reader's own
        continue
      }
      parsed.set(k, value)
    }
    // deeper than copyTree goes: parse again
    out[k] = value === null || typeof value !== 'object' ? value : copyTree(value) ?? parse(text)
  }
  return out
}

const copyAuth = (auth: SessionAuth): SessionAuth => ({ ...auth, current: [...auth.current], replaced: auth.replaced.map(([h, u]) => [h, u]) })
const expired = (entry: Entry, now: number): boolean => entry.expiresAt !== null && entry.expiresAt <= now

/** a copy; `checked` when every entry came from the plugin in this process, so the plugin need not check it again */
function toRecord (entry: Entry, keep: boolean, checked: boolean): SessionRecord {
  const data = decode(entry, keep)
  const auth = copyAuth(entry.auth)
  const meta = { ...entry.meta }
  return checked
    ? new CheckedRecord(data, entry.createdAt, entry.expiresAt, entry.version, auth, meta)
    : { data, createdAt: entry.createdAt, expiresAt: entry.expiresAt, version: entry.version, auth, meta }
}

/**
 * Sessions in a Map with an owner index: MemoryStore's storage and FileStore's in-memory state.
 * Bounded by maxEntries with least-recently-used eviction. Returns copies, never references.
 * Every method is synchronous, so each is atomic in its process.
 */
export class SessionIndex {
  readonly #entries = new Map<string, Entry>()
  readonly #owners = new Map<string, Set<string>>()
  readonly #maxEntries: number
  readonly #checked: boolean
  /**
   * Where eviction goes on: the oldest entry is the next this iterator yields. A new iterator per
   * eviction would step over every hole that recency moves (delete + set) leave at the Map's front
   * until V8 compacts it: 12 µs per create at capacity.
   */
  #oldest: Iterator<[string, Entry]> | null = null

  /**
   * `checked`: every record comes from the plugin in this process (MemoryStore; not FileStore, which
   * replays a file), so the copies handed out are marked as needing no check
   */
  constructor (maxEntries = Infinity, checked = false) {
    this.#maxEntries = maxEntries
    this.#checked = checked
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

  /** `present`: the Map may hold the key (a new session's create need not look it up again) */
  #store (key: string, entry: Entry, previousOwner: string | undefined, present = true): void {
    // delete first so that Map order is recency order (least recent first)
    if (present) this.#entries.delete(key)
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
      let next = this.#oldest?.next()
      if (next === undefined || next.done === true) next = (this.#oldest = this.#entries.entries()).next()
      const [oldest, old] = next.value as [string, Entry]
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
    return toRecord(entry, true, this.#checked)
  }

  set (key: string, record: SessionRecord): void {
    this.#write(key, record, this.#entries.get(key))
  }

  /** set() only when no live record has this key: false (nothing written) when one has */
  create (key: string, record: SessionRecord): boolean {
    const previous = this.#entries.get(key)
    if (previous !== undefined && !expired(previous, Date.now())) return false
    this.#write(key, record, previous)
    return true
  }

  #write (key: string, record: SessionRecord, previous: Entry | undefined): void {
    const entry = { data: encode(record.data), parsed: null, createdAt: record.createdAt, expiresAt: record.expiresAt, version: record.version, auth: copyAuth(record.auth), meta: { ...record.meta }, bytes: null }
    this.#store(key, entry, previous?.meta.owner, previous !== undefined)
  }

  /** the store contract's patch: per-key merge, version check and bump, applied in place */
  patch (key: string, change: SessionPatch): PatchResult {
    const entry = this.#live(key)
    if (entry === undefined) return 'missing'
    if (change.ifVersion !== undefined && change.ifVersion !== entry.version) return 'conflict'
    if (writtenAfter(entry.meta, change.unlessWrittenAfter)) return 'conflict'
    // each changed key's new text (undefined: removed); an unset wins over a set of the same key
    const changes = new Map<string, string | undefined>()
    for (const k of Object.keys(change.set)) {
      const value = change.set[k]
      changes.set(k, value === undefined ? undefined : stringify(value))
    }
    for (const k of change.unset) changes.set(k, undefined)
    let bytes = entry.bytes
    if (change.maxBytes !== undefined || bytes !== null) {
      bytes ??= dataBytes(entry.data)
      for (const [k, text] of changes) {
        const old = entry.data.get(k)
        if (old !== undefined) bytes -= textSize(k, old)
        if (text !== undefined) bytes += textSize(k, text)
      }
      if (change.maxBytes !== undefined && bytes > change.maxBytes) return 'too-large'
    }
    const owner = entry.meta.owner
    for (const [k, text] of changes) {
      if (text === undefined) entry.data.delete(k)
      else entry.data.set(k, text)
      // the parsed copies serve the keys this patch did not change
      entry.parsed?.delete(k)
    }
    entry.bytes = bytes
    entry.meta = mergeMeta(entry.meta, change.meta)
    if (change.expiresAt !== undefined) entry.expiresAt = change.expiresAt
    entry.version++
    this.#store(key, entry, owner)
    return 'ok'
  }

  rotate (key: string, from: string, auth: SessionAuth): boolean {
    const entry = this.#live(key)
    if (entry === undefined || entry.auth.current[0] !== from) return false
    entry.auth = copyAuth(auth)
    return true
  }

  touch (key: string, expiresAt: number | null): boolean {
    const entry = this.#live(key)
    if (entry === undefined) return false
    entry.expiresAt = expiresAt
    return true
  }

  /** true when a live session was removed */
  destroy (key: string): boolean {
    const entry = this.#entries.get(key)
    if (entry === undefined) return false
    this.#remove(key, entry)
    return !expired(entry, Date.now())
  }

  /** removes expired sessions; `onRemoved` hears each one's key and owner */
  prune (onRemoved?: (key: string, owner: string | undefined) => void): number {
    const now = Date.now()
    let removed = 0
    for (const [key, entry] of this.#entries) {
      if (expired(entry, now)) {
        this.#remove(key, entry)
        onRemoved?.(key, entry.meta.owner)
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

  /** live sessions under `prefix` and their count per owner */
  stats (prefix = ''): { sessions: number, owners: Record<string, number> } {
    const now = Date.now()
    const owners: Record<string, number> = {}
    let sessions = 0
    for (const [key, entry] of this.#entries) {
      if (expired(entry, now) || !key.startsWith(prefix)) continue
      sessions++
      if (entry.meta.owner !== undefined) owners[entry.meta.owner] = (owners[entry.meta.owner] ?? 0) + 1
    }
    return { sessions, owners }
  }

  /** every live session as [key, record], expired ones dropped on the way */
  liveRecords (): Array<[string, SessionRecord]> {
    this.prune()
    return [...this.#entries].map(([key, e]) => [key, toRecord(e, false, this.#checked)])
  }

  clear (): void {
    this.#oldest = null
    this.#entries.clear()
    this.#owners.clear()
  }
}
