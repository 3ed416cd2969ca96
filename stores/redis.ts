import type { Cluster, Redis } from 'ioredis'
import type { SessionMeta, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { parse, stringify } from '../lib/codec.js'
import { destroyOwned } from '../lib/owned.js'

export interface RedisStoreOptions {
  /** an ioredis `Redis` or `Cluster`; the store never closes it */
  client: Redis | Cluster
  /** key prefix (default 'sess:') */
  prefix?: string
}

// One hash per session: `d:<key>` per top-level data key, `m:<name>` per meta field, `_c` createdAt,
// `_e` expiresAt ('' = never), with PEXPIREAT on the key. Every script touches ONE key (Cluster-safe);
// the owner index (a set per owner) is kept by separate single-key commands.
const SCRIPTS = {
  fzsSessionSet: `
local old = redis.call('HGET', KEYS[1], 'm:owner')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return old`,
  // ARGV: expiresAt, n, then n field/value pairs (the last is _e), then fields to delete
  fzsSessionPatch: `
local found = redis.call('HMGET', KEYS[1], '_c', 'm:owner')
if not found[1] then return false end
local n = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + 2 * n))
if #ARGV > 2 + 2 * n then redis.call('HDEL', KEYS[1], unpack(ARGV, 3 + 2 * n)) end
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return {found[2] or ''}`,
  fzsSessionTouch: `
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], '_e', ARGV[1])
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return {redis.call('HGET', KEYS[1], 'm:owner') or ''}`,
  // adds a member (unless ARGV[1] is ''), then makes the set live as long as its longest session
  fzsOwnerExtend: `
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] ~= '' then redis.call('SADD', KEYS[1], ARGV[1]) elseif not exists then return 0 end
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1])
elseif exists then redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
else redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1`,
  fzsSessionDestroy: `
local old = redis.call('HGET', KEYS[1], 'm:owner')
redis.call('DEL', KEYS[1])
return old`
} as const

interface ScriptClient {
  fzsSessionSet (key: string, expiresAt: string, ...fields: string[]): Promise<string | null>
  fzsSessionPatch (key: string, expiresAt: string, count: string, ...fields: string[]): Promise<[string] | null>
  fzsSessionTouch (key: string, expiresAt: string): Promise<[string] | null>
  fzsSessionDestroy (key: string): Promise<string | null>
  fzsOwnerExtend (key: string, member: string, expiresAt: string): Promise<number>
}

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&')
const expiry = (at: number | null): string => at === null ? '' : String(at)
const ownerOf = (field: string | null | undefined): string | undefined => field === null || field === undefined || field === '' ? undefined : JSON.parse(field)

function metaFields (meta: Partial<SessionMeta>, set: string[], unset: string[]): void {
  for (const [name, value] of Object.entries(meta)) {
    if (value === undefined) unset.push(`m:${name}`)
    else set.push(`m:${name}`, JSON.stringify(value))
  }
}

/** Sessions in Redis or Redis Cluster: one hash per session, per-key atomic patches, native expiry. */
export class RedisStore implements SessionStore {
  readonly #client: Redis | Cluster
  readonly #scripts: ScriptClient
  readonly #prefix: string

  constructor (options: RedisStoreOptions) {
    const client = options?.client
    if (client === null || typeof client !== 'object' || typeof client.defineCommand !== 'function') {
      throw new TypeError('RedisStore: `client` must be an ioredis Redis or Cluster instance')
    }
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua })
    this.#client = client
    this.#scripts = client as unknown as ScriptClient
    this.#prefix = options.prefix ?? 'sess:'
  }

  #key (id: string): string {
    return this.#prefix + id
  }

  #ownerKey (owner: string): string {
    return `${this.#prefix}owner:${owner}`
  }

  /** one round trip: HGETALL */
  async get (id: string): Promise<SessionRecord | undefined> {
    const hash = await this.#client.hgetall(this.#key(id))
    if (hash._c === undefined) return undefined
    const expiresAt = hash._e === undefined || hash._e === '' ? null : Number(hash._e)
    if (expiresAt !== null && expiresAt <= Date.now()) return undefined
    const data: Record<string, unknown> = {}
    const meta: Record<string, unknown> = {}
    for (const field in hash) {
      if (field.startsWith('d:')) data[field.slice(2)] = parse(hash[field])
      else if (field.startsWith('m:')) meta[field.slice(2)] = JSON.parse(hash[field])
    }
    return { data, createdAt: Number(hash._c), expiresAt, meta }
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    const fields = ['_c', String(record.createdAt), '_e', expiry(record.expiresAt)]
    for (const [k, v] of Object.entries(record.data)) if (v !== undefined) fields.push(`d:${k}`, stringify(v))
    metaFields(record.meta, fields, [])
    const old = await this.#scripts.fzsSessionSet(this.#key(id), expiry(record.expiresAt), ...fields)
    await this.#reindex(id, ownerOf(old), record.meta.owner, record.expiresAt)
  }

  async patch (id: string, change: SessionPatch): Promise<boolean> {
    const set: string[] = []
    const unset = change.unset.map(k => `d:${k}`)
    for (const [k, v] of Object.entries(change.set)) {
      if (v === undefined) unset.push(`d:${k}`)
      else set.push(`d:${k}`, stringify(v))
    }
    if (change.meta !== undefined) metaFields(change.meta, set, unset)
    const at = expiry(change.expiresAt)
    set.push('_e', at)
    const result = await this.#scripts.fzsSessionPatch(this.#key(id), at, String(set.length / 2), ...set, ...unset)
    if (result === null) return false
    const before = ownerOf(result[0])
    const after = change.meta !== undefined && 'owner' in change.meta ? change.meta.owner : before
    await this.#reindex(id, before, after, change.expiresAt)
    return true
  }

  /** one command (a script); a second only to extend an owner index */
  async touch (id: string, expiresAt: number | null): Promise<void> {
    const result = await this.#scripts.fzsSessionTouch(this.#key(id), expiry(expiresAt))
    const owner = result === null ? undefined : ownerOf(result[0])
    if (owner !== undefined) await this.#extendOwner(owner, expiresAt)
  }

  async destroy (id: string): Promise<void> {
    const old = ownerOf(await this.#scripts.fzsSessionDestroy(this.#key(id)))
    if (old !== undefined) await this.#client.srem(this.#ownerKey(old), id)
  }

  async #reindex (id: string, before: string | undefined, after: string | undefined, expiresAt: number | null): Promise<void> {
    if (before !== undefined && before !== after) await this.#client.srem(this.#ownerKey(before), id)
    if (after !== undefined) await this.#scripts.fzsOwnerExtend(this.#ownerKey(after), before === after ? '' : id, expiry(expiresAt))
  }

  async #extendOwner (owner: string, expiresAt: number | null): Promise<void> {
    await this.#scripts.fzsOwnerExtend(this.#ownerKey(owner), '', expiry(expiresAt))
  }

  /** SCANs every master for session hashes (never KEYS), reading each one's owner and pointer fields */
  async stats (): Promise<SessionStats> {
    const cluster = this.#client as Cluster
    const nodes: Redis[] = typeof cluster.nodes === 'function' ? cluster.nodes('master') : [this.#client as Redis]
    const owners: Record<string, number> = {}
    let sessions = 0
    const ownerKeys = `${this.#prefix}owner:`
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(this.#prefix)}*`, 'COUNT', 1000, 'TYPE', 'hash')
        cursor = next
        const pipeline = node.pipeline()
        const sessionKeys = keys.filter(key => !key.startsWith(ownerKeys))
        for (const key of sessionKeys) pipeline.hmget(key, '_c', 'm:owner', 'm:rotatedTo')
        const results = sessionKeys.length === 0 ? [] : (await pipeline.exec()) ?? []
        for (const [err, fields] of results) {
          const [created, owner, rotatedTo] = (err === null ? fields : []) as Array<string | null>
          if (created === null || created === undefined || rotatedTo !== null) continue
          sessions++
          const name = ownerOf(owner)
          if (name !== undefined) owners[name] = (owners[name] ?? 0) + 1
        }
      } while (cursor !== '0')
    }
    return { sessions, owners }
  }

  async listByOwner (owner: string): Promise<string[]> {
    const key = this.#ownerKey(owner)
    const ids = await this.#client.smembers(key)
    const owners = await Promise.all(ids.map(id => this.#client.hget(this.#key(id), 'm:owner')))
    const live: string[] = []
    const stale: string[] = []
    ids.forEach((id, i) => (ownerOf(owners[i]) === owner ? live : stale).push(id))
    if (stale.length > 0) await this.#client.srem(key, ...stale)
    return live
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    return destroyOwned(this, owner, except)
  }
}
