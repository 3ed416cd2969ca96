import type { Cluster, Redis } from 'ioredis'
import type { ExpiredSession, ExpiryWatch, PatchResult, SessionAuth, SessionMeta, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { parse, stringify } from './kit/codec.js'
import { destroyOwned } from './kit/owned.js'
import { dataObject, usableRecord } from './kit/record.js'
import { warnOnce } from './kit/warn-once.js'
import { watchRedisExpiries } from './redis-expiry.js'

export interface RedisStoreOptions {
  /** an ioredis `Redis` or `Cluster`; the store never closes it */
  client: Redis | Cluster
  /** key prefix (default 'sess:') */
  prefix?: string
}

// One hash per session: `d:<key>` per top-level data key, `m:<name>` per meta field, `_c` createdAt,
// `_e` expiresAt ('' = never), `_v` version, `_b` the data's size, `_a` the auth as
// JSON, with PEXPIREAT on the key. Every script touches ONE key (Cluster-safe); the owner index (a set
// per owner) is kept by separate single-key commands.
const SCRIPTS = {
  fzsSessionSet: `
local old = redis.call('HGET', KEYS[1], 'm:owner')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if ARGV[1] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return old`,
  // ARGV: expiresAt ('' never, '-' unchanged), ifVersion ('' none), maxBytes ('' none), n, then n field/value
  // pairs, then fields to delete. `_b` holds the data's size (key + value bytes of every d: field), kept
  // from the lengths of the changed fields only. Answers false when missing, else {owner, 1 applied |
  // 0 version conflict | 2 too large, the key's expiry (-1 none)}.
  fzsSessionPatch: `
local found = redis.call('HMGET', KEYS[1], '_c', 'm:owner', '_v', '_b')
if not found[1] then return false end
if ARGV[2] ~= '' and found[3] ~= ARGV[2] then return {found[2] or '', 0} end
local n = tonumber(ARGV[4])
local last = 4 + 2 * n
local bytes = tonumber(found[4] or '0')
local new, gone, fields = {}, {}, {}
for i = 5, last, 2 do if string.sub(ARGV[i], 1, 2) == 'd:' then new[ARGV[i]] = #ARGV[i + 1]; fields[ARGV[i]] = true end end
for i = last + 1, #ARGV do if string.sub(ARGV[i], 1, 2) == 'd:' then gone[ARGV[i]] = true; fields[ARGV[i]] = true end end
for f in pairs(fields) do
  local old = redis.call('HSTRLEN', KEYS[1], f)
  if old > 0 then bytes = bytes - old - (#f - 2) end
  if new[f] and not gone[f] then bytes = bytes + new[f] + (#f - 2) end
end
if ARGV[3] ~= '' and bytes > tonumber(ARGV[3]) then return {found[2] or '', 2} end
redis.call('HSET', KEYS[1], '_v', tonumber(found[3]) + 1, '_b', bytes, unpack(ARGV, 5, last))
if #ARGV > last then redis.call('HDEL', KEYS[1], unpack(ARGV, last + 1)) end
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1]) elseif ARGV[1] ~= '-' then redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return {found[2] or '', 1, redis.call('PEXPIRETIME', KEYS[1])}`,
  // ARGV: the expected newest secret hash, the new auth JSON
  fzsSessionRotate: `
local auth = redis.call('HGET', KEYS[1], '_a')
if not auth or cjson.decode(auth).current[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], '_a', ARGV[2])
return 1`,
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
  // answers {1 when a session was there, its owner}
  fzsSessionDestroy: `
local found = redis.call('HMGET', KEYS[1], '_c', 'm:owner')
redis.call('DEL', KEYS[1])
return {found[1] and 1 or 0, found[2] or ''}`
} as const

interface ScriptClient {
  fzsSessionSet (key: string, expiresAt: string, ...fields: string[]): Promise<string | null>
  fzsSessionPatch (key: string, expiresAt: string, ifVersion: string, maxBytes: string, count: string, ...fields: string[]): Promise<[string, number, number?] | null>
  fzsSessionRotate (key: string, from: string, auth: string): Promise<number>
  fzsSessionTouch (key: string, expiresAt: string): Promise<[string] | null>
  fzsSessionDestroy (key: string): Promise<[number, string]>
  fzsOwnerExtend (key: string, member: string, expiresAt: string): Promise<number>
}

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&')
const expiry = (at: number | null): string => at === null ? '' : String(at)
const wrongType = (err: unknown): boolean => String((err as Error)?.message).includes('WRONGTYPE')
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
  readonly #corrupt = new Set<string>()

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

  /** sessions Redis expired by itself, from keyspace notifications (needs `notify-keyspace-events` with `Ex`) */
  async watchExpired (listener: (sessions: ExpiredSession[]) => void): Promise<ExpiryWatch> {
    return await watchRedisExpiries(this.#client, this.#prefix, listener)
  }

  #key (id: string): string {
    return this.#prefix + id
  }

  #ownerKey (owner: string): string {
    return `${this.#prefix}owner:${owner}`
  }

  /** one round trip: HGETALL */
  async get (id: string): Promise<SessionRecord | undefined> {
    const key = this.#key(id)
    let hash: Record<string, string>
    try {
      hash = await this.#client.hgetall(key)
    } catch (err) {
      if (!wrongType(err)) throw err
      this.#reportCorrupt(key, 'not a hash')
      return undefined
    }
    if (hash._c === undefined) return undefined
    const expiresAt = hash._e === undefined || hash._e === '' ? null : Number(hash._e)
    if (expiresAt !== null && expiresAt <= Date.now()) return undefined
    let record: SessionRecord | null | undefined = null
    try {
      const data = dataObject()
      const meta: Record<string, unknown> = {}
      for (const field of Object.keys(hash)) {
        if (field.startsWith('d:')) data[field.slice(2)] = parse(hash[field])
        else if (field.startsWith('m:')) meta[field.slice(2)] = JSON.parse(hash[field])
      }
      record = usableRecord({ data, createdAt: Number(hash._c), expiresAt, version: Number(hash._v), auth: JSON.parse(hash._a), meta })
    } catch {}
    if (record === null || record === undefined) this.#reportCorrupt(key, 'a field is not valid JSON, or a field is missing')
    return record ?? undefined
  }

  #reportCorrupt (key: string, why: string): void {
    warnOnce(this.#corrupt, key, `RedisStore: corrupt session ${key.slice(0, 24)}… treated as missing (${why})`)
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    const fields = ['_c', String(record.createdAt), '_e', expiry(record.expiresAt), '_v', String(record.version), '_a', JSON.stringify(record.auth)]
    let bytes = 0
    for (const k of Object.keys(record.data)) {
      if (record.data[k] === undefined) continue
      const value = stringify(record.data[k])
      fields.push(`d:${k}`, value)
      bytes += Buffer.byteLength(k) + Buffer.byteLength(value)
    }
    fields.push('_b', String(bytes))
    metaFields(record.meta, fields, [])
    const old = ownerOf(await this.#scripts.fzsSessionSet(this.#key(id), expiry(record.expiresAt), ...fields))
    if (old !== undefined || record.meta.owner !== undefined) await this.#reindex(id, old, record.meta.owner, record.expiresAt)
  }

  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    const set: string[] = []
    const unset = change.unset.map(k => `d:${k}`)
    for (const k of Object.keys(change.set)) {
      const v = change.set[k]
      if (v === undefined) unset.push(`d:${k}`)
      else set.push(`d:${k}`, stringify(v))
    }
    if (change.meta !== undefined) metaFields(change.meta, set, unset)
    const at = change.expiresAt === undefined ? '-' : expiry(change.expiresAt)
    if (change.expiresAt !== undefined) set.push('_e', at)
    let result: [string, number, number?] | null
    try {
      result = await this.#scripts.fzsSessionPatch(this.#key(id), at, change.ifVersion === undefined ? '' : String(change.ifVersion), change.maxBytes === undefined ? '' : String(change.maxBytes), String(set.length / 2), ...set, ...unset)
    } catch (err) {
      if (!wrongType(err)) throw err
      return 'missing'
    }
    if (result === null) return 'missing'
    if (result[1] === 0) return 'conflict'
    if (result[1] === 2) return 'too-large'
    const before = ownerOf(result[0])
    const after = change.meta !== undefined && 'owner' in change.meta ? change.meta.owner : before
    // the owner's set lives as long as its longest session: with the expiry unchanged, the key's own
    const expiresAt = change.expiresAt !== undefined ? change.expiresAt : result[2] === undefined || result[2] < 0 ? null : result[2]
    if (before !== after || (after !== undefined && change.expiresAt !== undefined)) await this.#reindex(id, before, after, expiresAt)
    return 'ok'
  }

  /** one command: a script comparing the stored auth's newest hash (rare: reads stay smaller without a copy of it) */
  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    try {
      return await this.#scripts.fzsSessionRotate(this.#key(id), from, JSON.stringify(auth)) === 1
    } catch (err) {
      if (!wrongType(err)) throw err
      return false
    }
  }

  /** one command (a script); a second only to extend an owner index */
  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    const result = await this.#scripts.fzsSessionTouch(this.#key(id), expiry(expiresAt))
    const owner = result === null ? undefined : ownerOf(result[0])
    if (owner !== undefined) await this.#extendOwner(owner, expiresAt)
    return result !== null
  }

  async destroy (id: string): Promise<boolean> {
    const [existed, owner] = await this.#scripts.fzsSessionDestroy(this.#key(id))
    const old = ownerOf(owner)
    if (old !== undefined) await this.#client.srem(this.#ownerKey(old), id)
    return existed === 1
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
        for (const key of sessionKeys) pipeline.hmget(key, '_c', 'm:owner')
        const results = sessionKeys.length === 0 ? [] : (await pipeline.exec()) ?? []
        for (const [err, fields] of results) {
          const [created, owner] = (err === null ? fields : []) as Array<string | null>
          if (created === null || created === undefined) continue
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
