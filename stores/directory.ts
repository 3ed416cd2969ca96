import { mkdir, readFile, readdir, stat, unlink, writeFile } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import type { PatchResult, PruneOptions, SessionAuth, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { parse, stringify } from './kit/codec.js'
import { KeyedLock, writeFileAtomic } from './kit/atomic-file.js'
import { withLockFile } from './kit/lock-files.js'
import { expiredReport } from './kit/expired-report.js'
import { destroyOwned } from './kit/owned.js'
import { applyPatch, applyRotate, isLive, once, decodeRecord } from './kit/record.js'
import { flag, type OpenedFromUrl, type StoreUrl } from './kit/url.js'

export interface DirectoryStoreOptions {
  /** the folder; created when missing */
  path: string
  /** file name prefix, for several stores in one folder (default '') */
  prefix?: string
  /** fsync each file before it replaces the old one (default false: a crash of the process loses nothing, a power cut may lose the last writes) */
  fsync?: boolean
}

const NAME_RE = /^[A-Za-z0-9_.:-]*$/
const ID_RE = /^[A-Za-z0-9_:-]{1,200}$/
const SUFFIX = '.session'
const OWNERS = '.owners'
/** mtime of a file that never expires: 9999-12-31 */
const NEVER = 253402300799000

/**
 * One file per session, `<prefix><id>.session`, written by atomic rename, with the prefix inside. The
 * file's mtime is its expiry, so prune() finds expired files from stat alone. Owners are indexed by
 * marker files under .owners/.
 * Several processes may share the folder (a rolling deploy, `cluster`, containers on one volume): no
 * file is ever torn, and every conditional write holds the id's lock file, so none is lost.
 */
export class DirectoryStore implements SessionStore {
  readonly #dir: string
  readonly #prefix: string
  readonly #fsync: boolean
  readonly #lock = new KeyedLock()
  readonly #corrupt = new Set<string>()

  constructor (options: DirectoryStoreOptions) {
    if (typeof options?.path !== 'string' || options.path === '') throw new TypeError('DirectoryStore: `path` (the folder) is required')
    const prefix = options.prefix ?? ''
    if (!NAME_RE.test(prefix) || prefix.includes('..')) throw new TypeError('DirectoryStore: `prefix` may hold only letters, digits and _ . : -')
    // a write's temporary file, `.<prefix><id>.session.<12 hex>.tmp`, within 255 bytes with an id of 128
    if (prefix.length > 100) throw new TypeError('DirectoryStore: `prefix` must be at most 100 characters (file names are at most 255 bytes)')
    this.#dir = resolve(options.path)
    this.#prefix = prefix
    this.#fsync = options.fsync ?? false
  }

  /** Creates the folder and proves it writable; the plugin awaits this before the app is ready. */
  readonly ready = once(async () => {
    await mkdir(join(this.#dir, OWNERS), { recursive: true })
    const probe = join(this.#dir, `.probe-${process.pid}`)
    await writeFile(probe, '')
    await unlink(probe)
  })

  /** `work` on one id, in turn with this process's other calls on it (KeyedLock) and other processes' (a lock file) */
  async #locked<T> (id: string, work: () => Promise<T>): Promise<T> {
    await this.ready() // the folder the lock file goes in
    return await this.#lock.run(id, async () => await withLockFile(this.#file(id), work))
  }

  #file (id: string): string {
    if (!ID_RE.test(id)) throw new TypeError(`DirectoryStore: invalid session id ${JSON.stringify(id.slice(0, 40))}`)
    return join(this.#dir, this.#prefix + id + SUFFIX)
  }

  #ownerDir (owner: string): string {
    return join(this.#dir, OWNERS, this.#prefix + createHash('sha256').update(owner).digest('base64url'))
  }

  /** the live record, or undefined (missing, expired or corrupt) */
  async #read (id: string): Promise<SessionRecord | undefined> {
    const record = await this.#readAny(id)
    return record !== undefined && isLive(record) ? record : undefined
  }

  /** the record, live or expired; undefined when missing or corrupt */
  async #readAny (id: string): Promise<SessionRecord | undefined> {
    return (await this.#readFile(id))?.record
  }

  /**
   * The record and whether this store wrote it: a file named `<prefix><id>` may be another store's (the
   * prefix 'app2' starts with 'app'), so the `prefix` written in it decides; a file written before the
   * prefix was recorded is this store's when its name starts with the prefix, as before.
   */
  async #readFile (id: string): Promise<{ record: SessionRecord, mine: boolean } | undefined> {
    const file = this.#file(id)
    await this.ready()
    let text: string
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'ENOENT') return undefined
      // a directory or a symlink loop where a session file should be: corrupt, not an outage
      if (code !== 'EISDIR' && code !== 'ELOOP') throw err
      text = ''
    }
    let prefix: unknown
    const record = decodeRecord(this.#corrupt, file, () => {
      const parsed = parse(text) as { prefix?: unknown } | null
      prefix = parsed?.prefix
      return parsed
    }, () => `DirectoryStore: corrupt session file ${file} treated as missing`)
    if (record === undefined) return undefined
    return { record, mine: prefix === undefined || prefix === this.#prefix }
  }

  async #write (id: string, record: SessionRecord): Promise<void> {
    await writeFileAtomic(this.#file(id), stringify({ ...record, prefix: this.#prefix }), { mtime: record.expiresAt ?? NEVER, fsync: this.#fsync })
  }

  async #index (id: string, before: string | undefined, after: string | undefined): Promise<void> {
    if (before === after) return
    if (before !== undefined) await unlink(join(this.#ownerDir(before), id)).catch(() => {})
    if (after !== undefined) {
      const dir = this.#ownerDir(after)
      await mkdir(dir, { recursive: true })
      await writeFile(join(dir, id), '')
    }
  }

  async get (id: string): Promise<SessionRecord | undefined> {
    return this.#read(id)
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    this.#file(id)
    await this.ready()
    await this.#locked(id, async () => {
      const before = await this.#read(id)
      await this.#write(id, record)
      await this.#index(id, before?.meta.owner, record.meta.owner)
    })
  }

  async create (id: string, record: SessionRecord): Promise<boolean> {
    this.#file(id)
    await this.ready()
    return await this.#locked(id, async () => {
      const before = await this.#readAny(id)
      if (before !== undefined && isLive(before)) return false
      await this.#write(id, record)
      await this.#index(id, before?.meta.owner, record.meta.owner)
      return true
    })
  }

  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    return this.#locked(id, async () => {
      const record = await this.#read(id)
      const before = record?.meta.owner
      const result = applyPatch(record, change)
      if (result !== 'ok' || record === undefined) return result
      await this.#write(id, record)
      await this.#index(id, before, record.meta.owner)
      return result
    })
  }

  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    return this.#locked(id, async () => {
      const record = await this.#read(id)
      if (!applyRotate(record, from, auth) || record === undefined) return false
      await this.#write(id, record)
      return true
    })
  }

  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    return this.#locked(id, async () => {
      const record = await this.#read(id)
      if (record === undefined) return false
      record.expiresAt = expiresAt
      await this.#write(id, record)
      return true
    })
  }

  async destroy (id: string): Promise<boolean> {
    const file = this.#file(id)
    return this.#locked(id, async () => {
      const record = await this.#read(id).catch(() => undefined)
      await unlink(file).catch(err => { if (err.code !== 'ENOENT') throw err })
      if (record?.meta.owner !== undefined) await this.#index(id, record.meta.owner, undefined)
      return record !== undefined
    })
  }

  /** ids of the session files in the folder whose names start with the prefix (some may be another prefix's) */
  async #ids (): Promise<string[]> {
    const ids: string[] = []
    for (const name of await readdir(this.#dir)) {
      if (!name.endsWith(SUFFIX) || !name.startsWith(this.#prefix) || name.startsWith('.')) continue
      const id = name.slice(this.#prefix.length, -SUFFIX.length)
      if (ID_RE.test(id)) ids.push(id)
    }
    return ids
  }

  /** Removes files whose mtime (= expiry) has passed: found by stat, and read (only those) to check whose they are. */
  async prune (options?: PruneOptions): Promise<number> {
    await this.ready()
    const now = Date.now()
    const expired = expiredReport('', options)
    let removed = 0
    const ids = await this.#ids()
    let done = 0
    for (const id of ids) {
      options?.onProgress?.(done++, ids.length)
      const file = this.#file(id)
      const info = await stat(file).catch(() => null)
      if (info === null || info.mtimeMs > now) continue
      // re-checked under the id's lock: a write may have just extended it
      const gone = await this.#locked(id, async () => {
        const fresh = await stat(file).catch(() => null)
        if (fresh === null || fresh.mtimeMs > now) return false
        // an expired file is read: whose it is, and its owner for whoever asked what was removed
        const found = await this.#readFile(id).catch(() => undefined)
        if (found?.mine === false) return false
        const owner = found?.record.meta.owner
        // only the unlink that removed the file reports it: another process may prune this directory too
        return await unlink(file).then(() => { expired?.collect(id, owner); return true }, () => false)
      })
      if (gone) removed++
    }
    expired?.report()
    options?.onProgress?.(ids.length, ids.length)
    return removed
  }

  /** reads every live session file: the owner markers are only hints */
  async stats (): Promise<SessionStats> {
    await this.ready()
    const owners: Record<string, number> = {}
    let sessions = 0
    for (const id of await this.#ids()) {
      const found = await this.#readFile(id).catch(() => undefined)
      if (found === undefined || !found.mine || !isLive(found.record)) continue
      const record = found.record
      sessions++
      if (record.meta.owner !== undefined) owners[record.meta.owner] = (owners[record.meta.owner] ?? 0) + 1
    }
    return { sessions, owners }
  }

  async listByOwner (owner: string): Promise<string[]> {
    await this.ready()
    let ids: string[]
    try {
      ids = await readdir(this.#ownerDir(owner))
    } catch {
      return []
    }
    const live: string[] = []
    for (const id of ids) {
      if (!ID_RE.test(id)) continue
      const record = await this.#read(id)
      // markers are hints: the session file is the truth (another process may have changed it)
      if (record?.meta.owner === owner) live.push(id)
      else if (record === undefined || record.meta.owner !== owner) await unlink(join(this.#ownerDir(owner), id)).catch(() => {})
    }
    return live
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    return destroyOwned(this, owner, except)
  }
}

/** @internal The store a storage URL names (`dir://`): stores/url/open.ts calls it, with the URL parse checked. */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  return { store: new DirectoryStore({ path: resolve(url.path!), prefix: url.params.prefix, fsync: flag(url.params.fsync) }) }
}
