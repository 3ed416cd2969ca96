import { createHash } from 'node:crypto'
import type { MemcacheClient, MemcacheClientOptions } from 'memcache-client'
import type { PatchResult, SessionAuth, SessionPatch, SessionRecord, SessionStore } from '../types/index.js'
import { parse, stringify } from './kit/codec.js'
import { applyPatch, applyRotate, isLive, decodeRecord } from './kit/record.js'
import { memcachedPrefixProblem } from './kit/memcached-key.js'
import { driver, type OpenedFromUrl, type StoreUrl } from './kit/url.js'

export { memcachedPrefixProblem }

export interface MemcachedStoreOptions {
  /** 'host:port' of each server; the store creates one client per server, spreads keys over them and closes them */
  servers?: string[]
  /** or a memcache-client MemcacheClient of yours (never closed by the store) */
  client?: MemcacheClient
  /** options for the clients the store creates (e.g. cmdTimeout, connectTimeout) */
  clientOptions?: Omit<MemcacheClientOptions, 'server'>
  /** key prefix (default 'sess:') */
  prefix?: string
  /** gets/cas attempts for one patch or touch under contention (default 50) */
  casRetries?: number
}

/** memcached reads exptime above 30 days as an absolute Unix time. */
const RELATIVE_LIMIT = 30 * 24 * 3600

/** exptime for memcached: 0 never, relative seconds up to 30 days, an absolute Unix timestamp beyond, -1 already expired */
export function exptime (expiresAt: number | null, now = Date.now()): number {
  if (expiresAt === null) return 0
  const seconds = Math.ceil((expiresAt - now) / 1000)
  if (seconds <= 0) return -1
  return seconds > RELATIVE_LIMIT ? Math.ceil(expiresAt / 1000) : seconds
}

const notFound = (err: unknown): boolean => (err as Error)?.message === 'NOT_FOUND'
const conflict = (err: unknown): boolean => (err as Error)?.message === 'EXISTS' || notFound(err)
const KEY_RE = /^[^\s\0]{1,250}$/
/** how long a server that failed a command is routed around before it is tried again */
const DOWN_MS = 2000
/** answers, not failures: the server is up */
const ANSWERS = new Set(['NOT_FOUND', 'EXISTS', 'NOT_STORED'])

class ContentionError extends Error {}

/**
 * Sessions in memcached: one JSON value per session; patch and touch are gets/cas loops with
 * bounded retries, so concurrent changes to different keys all survive. memcached cannot list
 * keys, so owner listing is not supported (fastify.sessions.list/revoke say so with an FST code).
 */
export class MemcachedStore implements SessionStore {
  readonly #clients: MemcacheClient[]
  readonly #names: string[]
  readonly #owned: boolean
  readonly #prefix: string
  readonly #retries: number
  readonly #corrupt = new Set<string>()
  #loading: Promise<typeof import('memcache-client')> | null = null

  constructor (options: MemcachedStoreOptions) {
    if (options?.client !== undefined) {
      this.#clients = [options.client]
      this.#names = ['client']
      this.#owned = false
    } else if (Array.isArray(options?.servers) && options.servers.length > 0 && options.servers.every(s => typeof s === 'string' && /^[^\s:]+:\d+$/.test(s))) {
      this.#clients = []
      this.#names = [...options.servers]
      this.#owned = true
      this.#loading = import('memcache-client')
      this.#clientOptions = options.clientOptions ?? {}
    } else {
      throw new TypeError("MemcachedStore: pass `servers: ['host:port', …]` or a memcache-client `client`")
    }
    this.#prefix = options.prefix ?? 'sess:'
    const problem = memcachedPrefixProblem(this.#prefix)
    if (problem !== undefined) throw new TypeError(`MemcachedStore: prefix ${problem}`)
    this.#retries = options.casRetries ?? 50
  }

  #clientOptions: Omit<MemcacheClientOptions, 'server'> = {}

  /** per server: until when it is routed around (it failed a command) */
  #downUntil: number[] = []

  /**
   * Loads the driver, creates the clients and asks every server for its version: ready() fails when
   * none answers; one that does not answer is routed around until it does.
   */
  async ready (): Promise<void> {
    if (this.#clients.length === 0 && this.#loading !== null) {
      const { MemcacheClient } = await this.#loading
      if (this.#clients.length === 0) {
        for (const server of this.#names) this.#clients.push(new MemcacheClient({ cmdTimeout: 3000, connectTimeout: 3000, ...this.#clientOptions, server }))
      }
    }
    if (this.#checked) return
    this.#checked = true
    const answers = await Promise.allSettled(this.#clients.map(async client => await client.version()))
    const failed = answers.flatMap((a, i) => a.status === 'rejected' ? [`${this.#names[i]} (${(a.reason as Error)?.message ?? String(a.reason)})`] : [])
    answers.forEach((a, i) => { this.#downUntil[i] = a.status === 'rejected' ? Date.now() + DOWN_MS : 0 })
    if (failed.length === this.#clients.length) {
      this.#checked = false
      throw new Error(`MemcachedStore: no memcached server answered: ${failed.join(', ')}`)
    }
    if (failed.length > 0) process.emitWarning(`MemcachedStore: not answering, routed around: ${failed.join(', ')}`)
  }

  #checked = false

  /** Rendezvous hashing: each key's servers, best first (the highest hash of (server, key)). */
  #ranked (key: string): number[] {
    const scores = this.#names.map((name, i) => [createHash('md5').update(name).update('\0').update(key).digest().readUInt32BE(0), i])
    return scores.sort((a, b) => b[0] - a[0]).map(([, i]) => i)
  }

  /**
   * Runs `op` on the key's server. A server that fails (down, timeout) is routed around for a while
   * and the op runs once more on the key's next live server: a dead server costs its own sessions,
   * not half of all new ones.
   */
  async #run<T> (key: string, op: (client: MemcacheClient) => Promise<T>): Promise<T> {
    if (this.#clients.length === 0 || !this.#checked) await this.ready()
    if (this.#clients.length === 1) return await op(this.#clients[0])
    const order = this.#ranked(key)
    const now = Date.now()
    const live = order.filter(i => (this.#downUntil[i] ?? 0) <= now)
    let failure: unknown
    for (const i of (live.length > 0 ? live : order).slice(0, 2)) {
      try {
        return await op(this.#clients[i])
      } catch (err) {
        if (err instanceof ContentionError || ANSWERS.has((err as Error)?.message)) throw err
        this.#downUntil[i] = Date.now() + DOWN_MS
        failure = err
      }
    }
    throw failure
  }

  #key (id: string): string {
    const key = this.#prefix + id
    if (!KEY_RE.test(key) || Buffer.byteLength(key) > 250) throw new TypeError('MemcachedStore: keys must be 1-250 bytes without whitespace')
    return key
  }

  async get (id: string): Promise<SessionRecord | undefined> {
    const key = this.#key(id)
    const found = await this.#run(key, async client => await client.get<string>(key))
    if (found === undefined) return undefined
    const record = this.#decode(key, found.value)
    return record !== undefined && isLive(record) ? record : undefined
  }

  #decode (key: string, value: unknown): SessionRecord | undefined {
    return decodeRecord(this.#corrupt, key, () => parse(String(value)), () => `MemcachedStore: corrupt session ${key.slice(0, 24)}… treated as missing`)
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    const key = this.#key(id)
    const lifetime = exptime(record.expiresAt)
    await this.#run(key, async client => {
      if (lifetime === -1) await client.delete(key).catch(err => { if (!notFound(err)) throw err })
      else await client.set(key, stringify(record), { lifetime })
    })
  }

  /**
   * memcached's add, which stores only when the key is absent. A key that is there but expired by the
   * record's own deadline (memcached counts whole seconds) or corrupt is replaced by a cas.
   */
  async create (id: string, record: SessionRecord): Promise<boolean> {
    const key = this.#key(id)
    const lifetime = exptime(record.expiresAt)
    if (lifetime === -1) return await this.get(id) === undefined // already expired: nothing to write
    const value = stringify(record)
    return await this.#run(key, async client => {
      for (let attempt = 0; attempt < this.#retries; attempt++) {
        try {
          await client.add(key, value, { lifetime })
          return true
        } catch (err) {
          if ((err as Error)?.message !== 'NOT_STORED') throw err
        }
        const found = await client.gets<string>(key)
        if (found === undefined) continue // gone meanwhile: add again
        const existing = this.#decode(key, found.value)
        if (existing !== undefined && isLive(existing)) return false
        try {
          await client.cas(key, value, { casUniq: found.casUniq, lifetime })
          return true
        } catch (err) {
          if (!conflict(err)) throw err
        }
      }
      throw new ContentionError(`MemcachedStore: ${this.#retries} add/cas attempts on one session all conflicted`)
    })
  }

  /** gets, change, cas; again on a conflict, up to casRetries times. `change` answers whether to write. */
  async #update<T> (id: string, change: (record: SessionRecord | undefined) => { write: boolean, result: T }): Promise<T> {
    const key = this.#key(id)
    return await this.#run(key, async client => await this.#casLoop(client, key, change))
  }

  async #casLoop<T> (client: MemcacheClient, key: string, change: (record: SessionRecord | undefined) => { write: boolean, result: T }): Promise<T> {
    for (let attempt = 0; attempt < this.#retries; attempt++) {
      const found = await client.gets<string>(key)
      const record = found === undefined ? undefined : this.#decode(key, found.value)
      const { write, result } = change(record !== undefined && isLive(record) ? record : undefined)
      if (!write || found === undefined || record === undefined) return result
      const lifetime = exptime(record.expiresAt)
      try {
        if (lifetime === -1) await client.delete(key)
        else await client.cas(key, stringify(record), { casUniq: found.casUniq, lifetime })
        return result
      } catch (err) {
        if (!conflict(err)) throw err
        await new Promise(resolve => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)))
      }
    }
    throw new ContentionError(`MemcachedStore: ${this.#retries} gets/cas attempts on one session all conflicted`)
  }

  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    return this.#update(id, record => {
      const result = applyPatch(record, change)
      return { write: result === 'ok', result }
    })
  }

  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    return this.#update(id, record => {
      const done = applyRotate(record, from, auth)
      return { write: done, result: done }
    })
  }

  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    return this.#update(id, record => {
      if (record !== undefined) record.expiresAt = expiresAt
      return { write: record !== undefined, result: record !== undefined }
    })
  }

  async destroy (id: string): Promise<boolean> {
    const key = this.#key(id)
    return await this.#run(key, async client => await client.delete(key).then(() => true, err => {
      if (!notFound(err)) throw err
      return false
    }))
  }

  async close (): Promise<void> {
    if (!this.#owned) return
    for (const client of this.#clients) client.shutdown()
    this.#clients.length = 0
  }
}

/** @internal The store a storage URL names (`memcached://`): stores/url/open.ts calls it, with the URL parse checked. */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  await driver('memcache-client', 'memcached://')
  return { store: new MemcachedStore({ servers: url.hosts.map(h => `${h.host}:${h.port}`), prefix: url.params.prefix }) }
}
