import { open, readFile, rename, type FileHandle } from 'node:fs/promises'
import { mkdirSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import type { PatchResult, PruneOptions, SessionAuth, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { parse, stringify } from './kit/codec.js'
import { SessionIndex } from './kit/session-index.js'
import { expiredReport } from './kit/expired-report.js'
import { acquireLock } from './kit/lock-file.js'
import { destroyOwned } from './kit/owned.js'
import { flag, positive, type OpenedFromUrl, type StoreUrl } from './kit/url.js'

export interface FileStoreOptions {
  /** the file holding every session (a journal); `<path>.lock` marks the process that owns it */
  path: string
  prefix?: string
  /** fsync after each batch of writes (default false: a killed process loses nothing, a power cut may lose the last writes) */
  fsync?: boolean
  /** superseded journal lines tolerated before the file is rewritten compactly (default 10,000) */
  compactAfter?: number
}

/**
 * One line of the journal. A PERSISTED FORMAT: files written by earlier versions are replayed by this
 * one, so these keys and their meaning never change; a new kind of line gets new keys, never a reused
 * one. Every id is the stored key (prefix + session id); values are JSON through kit/codec.ts. #replay
 * tests the keys in this order, which is how a set line (it has `r` too) is told from a rotate line:
 *   { s: id, r: record }                set (create is journalled as a set; compaction writes only these)
 *   { p: id, c: patch, mu?: keys }      patch as applied (ifVersion dropped); mu lists the meta fields
 *                                       removed, since JSON cannot carry a field set to undefined
 *   { r: id, f: fromHash, a: auth }     rotate: f is the current[0] it replaced, a the new auth
 *   { t: id, e: expiresAt | null }      touch
 *   { d: id }                           destroy
 * A line that does not parse, or matches none of these, is skipped and reported as corrupt; a torn last
 * line (no newline) is cut off.
 */
type Line =
  | { s: string, r: SessionRecord }
  | { p: string, c: SessionPatch, mu?: string[] }
  | { r: string, f: string, a: SessionAuth }
  | { t: string, e: number | null }
  | { d: string }

function withMetaRemovals (change: SessionPatch, removed: string[] | undefined): SessionPatch {
  if (removed === undefined || removed.length === 0) return change
  const meta: Record<string, unknown> = { ...change.meta }
  for (const key of removed) meta[key] = undefined
  return { ...change, meta }
}

/**
 * All sessions in one file: an in-memory index over an append-only journal of JSON lines, so the
 * cost of an operation does not grow with the number of sessions. The journal is rewritten
 * (temp file, fsync, rename) when superseded lines pile up and after prune(). A process killed at
 * any moment leaves a file that opens: a torn last line is dropped. One process owns a file.
 */
export class FileStore implements SessionStore {
  readonly #path: string
  readonly #prefix: string
  readonly #fsync: boolean
  readonly #compactAfter: number
  readonly #index = new SessionIndex()
  #handle: FileHandle | null = null
  #opening: Promise<void> | null = null
  #releaseLock: (() => void) | null = null
  #pending: string[] = []
  #flushing: Promise<void> | null = null
  #lines = 0
  #forceCompact = false
  #broken: Error | null = null

  constructor (options: FileStoreOptions) {
    if (typeof options?.path !== 'string' || options.path === '') throw new TypeError('FileStore: `path` (the file) is required')
    this.#path = resolve(options.path)
    this.#prefix = options.prefix ?? ''
    this.#fsync = options.fsync ?? false
    this.#compactAfter = options.compactAfter ?? 10_000
  }

  /** Opens the file (taking its lock) and replays the journal; the plugin awaits this. */
  ready (): Promise<void> {
    this.#opening ??= this.#open()
    return this.#opening
  }

  async #open (): Promise<void> {
    mkdirSync(dirname(this.#path), { recursive: true })
    this.#releaseLock = await acquireLock(this.#path + '.lock', 'FileStore')
    let text = ''
    try {
      text = await readFile(this.#path, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const end = text.lastIndexOf('\n') + 1
    let corrupt = 0
    for (const line of text.slice(0, end).split('\n')) {
      if (line === '') continue
      this.#lines++
      try {
        this.#replay(parse(line) as Line)
      } catch {
        corrupt++
      }
    }
    if (corrupt > 0) process.emitWarning(`FileStore: ${corrupt} corrupt line(s) in ${this.#path} skipped`, { code: 'FST_SESSION_CORRUPT_RECORD' })
    this.#handle = await open(this.#path, 'a', 0o600)
    // a torn last line (the writer was killed mid-write) is cut off so new lines start clean
    if (end < Buffer.byteLength(text)) await this.#handle.truncate(Buffer.byteLength(text.slice(0, end)))
  }

  #replay (line: Line): void {
    if ('s' in line) this.#index.set(line.s, line.r)
    else if ('p' in line) this.#index.patch(line.p, withMetaRemovals(line.c, line.mu))
    else if ('r' in line) this.#index.rotate(line.r, line.f, line.a)
    else if ('t' in line) this.#index.touch(line.t, line.e)
    else if ('d' in line) this.#index.destroy(line.d)
    else throw new Error('unknown journal line')
  }

  async #append (line: Line): Promise<void> {
    this.#pending.push(stringify(line))
    this.#lines++
    this.#flushing ??= this.#flush()
    return this.#flushing
  }

  async #flush (): Promise<void> {
    await null // lets the writes of this tick join one batch
    try {
      for (;;) {
        if (this.#pending.length === 0 && !this.#forceCompact) break
        if (this.#forceCompact || this.#lines - this.#index.size > this.#compactAfter) {
          await this.#compact()
          continue
        }
        const batch = this.#pending.join('\n') + '\n'
        this.#pending = []
        await this.#handle!.write(batch)
        if (this.#fsync) await this.#handle!.datasync()
      }
    } catch (err) {
      // memory is ahead of the disk now: refuse further work rather than diverge silently
      this.#broken = new Error(`FileStore: writing ${this.#path} failed`, { cause: err })
      throw this.#broken
    } finally {
      this.#flushing = null
    }
  }

  /** Rewrites the journal as one line per live session; pending lines are already in that snapshot. */
  async #compact (): Promise<void> {
    this.#forceCompact = false
    this.#pending = []
    const lines = this.#index.liveRecords().map(([id, record]) => stringify({ s: id, r: record }))
    const temp = `${this.#path}.${process.pid}.compact`
    const handle = await open(temp, 'w', 0o600)
    try {
      await handle.writeFile(lines.length > 0 ? lines.join('\n') + '\n' : '')
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, this.#path)
    await this.#handle!.close()
    this.#handle = await open(this.#path, 'a', 0o600)
    this.#lines = lines.length
  }

  async #ready (): Promise<void> {
    await this.ready()
    if (this.#broken !== null) throw this.#broken
  }

  async get (id: string): Promise<SessionRecord | undefined> {
    await this.#ready()
    return this.#index.get(this.#prefix + id)
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    await this.#ready()
    const copy = parse(stringify(record)) as SessionRecord
    this.#index.set(this.#prefix + id, copy)
    await this.#append({ s: this.#prefix + id, r: copy })
  }

  /** the journal gets an ordinary set line: replaying it needs no condition */
  async create (id: string, record: SessionRecord): Promise<boolean> {
    await this.#ready()
    const copy = parse(stringify(record)) as SessionRecord
    if (!this.#index.create(this.#prefix + id, copy)) return false
    await this.#append({ s: this.#prefix + id, r: copy })
    return true
  }

  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    await this.#ready()
    const copy = parse(stringify(change)) as SessionPatch
    // JSON drops undefined: meta fields being removed travel as a list
    const mu = Object.keys(change.meta ?? {}).filter(k => change.meta?.[k as keyof typeof change.meta] === undefined)
    const result = this.#index.patch(this.#prefix + id, withMetaRemovals(copy, mu))
    // the journal holds what was applied: replaying it needs no condition
    delete copy.ifVersion
    delete copy.unlessWrittenAfter
    if (result === 'ok') await this.#append(mu.length > 0 ? { p: this.#prefix + id, c: copy, mu } : { p: this.#prefix + id, c: copy })
    return result
  }

  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    await this.#ready()
    if (!this.#index.rotate(this.#prefix + id, from, auth)) return false
    await this.#append({ r: this.#prefix + id, f: from, a: auth })
    return true
  }

  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    await this.#ready()
    if (!this.#index.touch(this.#prefix + id, expiresAt)) return false
    await this.#append({ t: this.#prefix + id, e: expiresAt })
    return true
  }

  async destroy (id: string): Promise<boolean> {
    await this.#ready()
    const removed = this.#index.destroy(this.#prefix + id)
    if (removed) await this.#append({ d: this.#prefix + id })
    return removed
  }

  /** Drops expired sessions and rewrites the file without them. */
  async prune (options?: PruneOptions): Promise<number> {
    await this.#ready()
    const total = this.#index.size
    const expired = expiredReport(this.#prefix, options)
    const removed = this.#index.prune(expired?.collect)
    if (removed > 0) {
      this.#forceCompact = true
      this.#flushing ??= this.#flush()
      await this.#flushing
    }
    options?.onProgress?.(total, total)
    expired?.report()
    return removed
  }

  async stats (): Promise<SessionStats> {
    await this.#ready()
    return this.#index.stats(this.#prefix)
  }

  async listByOwner (owner: string): Promise<string[]> {
    await this.#ready()
    return this.#index.listByOwner(owner, this.#prefix)
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    return destroyOwned(this, owner, except)
  }

  /** Writes what is pending, closes the file and releases the lock. */
  async close (): Promise<void> {
    if (this.#opening === null) return
    await this.#opening.catch(() => {})
    if (this.#flushing !== null) await this.#flushing.catch(() => {})
    await this.#handle?.close()
    this.#handle = null
    this.#releaseLock?.()
    this.#releaseLock = null
    this.#opening = null
  }
}

/** @internal The store a storage URL names (`file://`): stores/url/open.ts calls it, with the URL parse checked. */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  return { store: new FileStore({ path: resolve(url.path!), prefix: url.params.prefix, fsync: flag(url.params.fsync), compactAfter: positive(url.params.compactAfter) }) }
}
