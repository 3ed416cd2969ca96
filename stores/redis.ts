import type { ExpiredSession, ExpiryWatch, PatchResult, SessionAuth, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { stringify } from './kit/codec.js'
import { destroyOwned } from './kit/owned.js'
import { decodeRecord } from './kit/record.js'
import { warnOnce } from './kit/warn-once.js'
import { PREFIX_RULES, prefixProblem } from './kit/text.js'
import { watchRedisExpiries } from './redis/expiry.js'
import { flatHash, type RedisClient, type RedisLink } from './redis/link.js'
import { redisLink } from './redis/client.js'
import { redisLayoutProblem, type RedisLayout } from './redis/layout.js'
import { CORRUPT, expiry, metaFields, ownerOf, packArgs, packedFields, readOwner, recordArgs, recordOf } from './redis/hash.js'

export type { IORedisClient, IORedisCluster, NodeRedisClient, NodeRedisCluster, RedisClient } from './redis/link.js'

export interface RedisStoreOptions {
  /**
   * an ioredis `Redis` or `Cluster`, or a connected node-redis client (`createClient()` or
   * `createCluster()` of the `redis` package, as connect-redis uses); the store never closes it
   */
  client: RedisClient
  /** key prefix (default 'sess:') */
  prefix?: string
  /**
   * how set() and create() write a session's hash (default 'packed'): 'fields' is 0.2's layout, for the
   * length of a rolling deploy from 0.2 (whose instances cannot read a packed hash). Reads and patches
   * take either, so the two can share one Redis.
   */
  layout?: RedisLayout
}

export type { RedisLayout } from './redis/layout.js'

const escapeGlob = (text: string): string => text.replace(/[*?[\]\\]/g, '\\$&')
const wrongType = (err: unknown): boolean => String((err as Error)?.message).includes('WRONGTYPE')
const corruptMessage = (key: string, why: string): string => `RedisStore: corrupt session ${key.slice(0, 24)}… treated as missing (${why})`
/** Sessions in Redis or Redis Cluster: one hash per session, per-key atomic patches, native expiry. */
export class RedisStore implements SessionStore {
  readonly #link: RedisLink
  readonly #prefix: string
  /**
   * the prefix as Redis holds the keys: the client's keyPrefix (ioredis adds it to every key it is
   * sent) and the store's. SCAN and expiry notifications name keys by it, and each hash records it
   * (`_p`, or in `_r`), so that stats() counts exactly the sessions whose keys this store reads.
   */
  readonly #held: string
  readonly #layout: RedisLayout
  readonly #corrupt = new Set<string>()

  constructor (options: RedisStoreOptions) {
    this.#link = redisLink(options?.client)
    this.#prefix = options.prefix ?? 'sess:'
    for (const [name, text] of [['prefix', this.#prefix], ['the client\'s keyPrefix', this.#link.keyPrefix]]) {
      const problem = prefixProblem(text, PREFIX_RULES.redis)
      if (problem !== undefined) throw new TypeError(`RedisStore: \`${name}\` ${problem}`)
    }
    this.#held = this.#link.keyPrefix + this.#prefix
    this.#layout = options.layout ?? 'packed'
    const problem = redisLayoutProblem(this.#layout)
    if (problem !== undefined) throw new TypeError(`RedisStore: \`layout\` ${problem}`)
  }

  /** sessions Redis expired by itself, from keyspace notifications (needs `notify-keyspace-events` with `Ex`) */
  async watchExpired (listener: (sessions: ExpiredSession[]) => void): Promise<ExpiryWatch> {
    return await watchRedisExpiries(this.#link, this.#held, listener)
  }

  #key (id: string): string {
    return this.#prefix + id
  }

  #ownerKey (owner: string): string {
    return `${this.#prefix}owner:${owner}`
  }

  /**
   * one round trip: HGETALL (a script answering one JSON string would cost the client less and Redis
   * 7× more, 19 µs against 2.8: the server every app shares pays)
   */
  async get (id: string): Promise<SessionRecord | undefined> {
    const key = this.#key(id)
    let hash: string[]
    try {
      hash = flatHash(await this.#link.send(key, ['HGETALL', key]))
    } catch (err) {
      if (!wrongType(err)) throw err
      this.#reportCorrupt(key, 'not a hash')
      return undefined
    }
    if (hash.length === 0) return undefined
    return decodeRecord(this.#corrupt, key, () => recordOf(hash), () => corruptMessage(key, 'a field is not valid JSON, or a field is missing'))
  }

  #reportCorrupt (key: string, why: string): void {
    warnOnce(this.#corrupt, key, corruptMessage(key, why))
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    const old = ownerOf(await this.#link.run('fzsSessionSet', this.#key(id), packArgs(recordArgs(record, this.#held, this.#layout), this.#link.packFrom)) as string | null)
    if (old !== undefined || record.meta.owner !== undefined) await this.#reindex(id, old, record.meta.owner, record.expiresAt)
  }

  /** one script: the hash is written only when the key does not exist */
  async create (id: string, record: SessionRecord): Promise<boolean> {
    if (await this.#link.run('fzsSessionCreate', this.#key(id), packArgs(recordArgs(record, this.#held, this.#layout), this.#link.packFrom)) !== 1) return false
    if (record.meta.owner !== undefined) await this.#reindex(id, undefined, record.meta.owner, record.expiresAt)
    return true
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
    set.push('_p', this.#held) // labels a hash written before `_p` existed
    const at = change.expiresAt === undefined ? '-' : expiry(change.expiresAt)
    if (change.expiresAt !== undefined) set.push('_e', at)
    let result: [string, number, number?] | null
    try {
      const key = this.#key(id)
      // the owner is needed only to move the session between owner sets, or to extend its set's expiry
      const needOwner = change.expiresAt !== undefined || (change.meta !== undefined && 'owner' in change.meta)
      result = await this.#link.run('fzsSessionPatch', key, packArgs([at, change.ifVersion === undefined ? '' : String(change.ifVersion),
        change.maxBytes === undefined ? '' : String(change.maxBytes), change.unlessWrittenAfter === undefined ? '' : String(change.unlessWrittenAfter),
        needOwner ? '1' : '', String(set.length / 2), ...set, ...unset], this.#link.packFrom)) as [string, number, number?] | null
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
      return await this.#link.run('fzsSessionRotate', this.#key(id), [from, JSON.stringify(auth)]) === 1
    } catch (err) {
      if (!wrongType(err)) throw err
      return false
    }
  }

  /** one command (a script); a second only to extend an owner index */
  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    const result = await this.#link.run('fzsSessionTouch', this.#key(id), [expiry(expiresAt), this.#held]) as [string] | null
    const owner = result === null ? undefined : ownerOf(result[0])
    if (owner !== undefined) await this.#extendOwner(owner, expiresAt)
    return result !== null
  }

  async destroy (id: string): Promise<boolean> {
    const [existed, owner] = await this.#link.run('fzsSessionDestroy', this.#key(id), []) as [number, string]
    const old = ownerOf(owner)
    if (old !== undefined) await this.#srem(old, [id])
    return existed === 1
  }

  async #reindex (id: string, before: string | undefined, after: string | undefined, expiresAt: number | null): Promise<void> {
    if (before !== undefined && before !== after) await this.#srem(before, [id])
    if (after !== undefined) await this.#extendOwner(after, expiresAt, before === after ? '' : id)
  }

  /** adds `member` (unless '') to the owner's set and keeps the set as long as its longest session */
  async #extendOwner (owner: string, expiresAt: number | null, member = ''): Promise<void> {
    const key = this.#ownerKey(owner)
    if (await this.#link.run('fzsOwnerExtend', key, [member, expiry(expiresAt)]) === 2) this.#reportCorrupt(key, 'an owner index that was not a set, replaced')
  }

  async #srem (owner: string, ids: string[]): Promise<void> {
    const key = this.#ownerKey(owner)
    try {
      await this.#link.send(key, ['SREM', key, ...ids])
    } catch (err) {
      if (!wrongType(err)) throw err
      this.#reportCorrupt(key, 'an owner index that is not a set')
    }
  }

  /**
   * SCANs every master for session hashes (never KEYS), reading each one's owner and prefix fields: a
   * key matching the prefix may be another store's ('app2…' starts with 'app'), so the prefix the hash
   * recorded decides (a hash written before `_p` existed counts where its key starts with the prefix,
   * as before; one written through a keyPrefix client before hashes recorded it, where it recorded the
   * store's prefix)
   */
  async stats (): Promise<SessionStats> {
    const nodes = await this.#link.masters()
    const owners: Record<string, number> = {}
    let sessions = 0
    const held = this.#held
    const ownerKeys = `${held}owner:`
    const keyPrefix = this.#link.keyPrefix
    for (const node of nodes) {
      let cursor = '0'
      do {
        const [next, keys] = await node.send(['SCAN', cursor, 'MATCH', `${escapeGlob(held)}*`, 'COUNT', '1000', 'TYPE', 'hash']) as [string, string[]]
        cursor = String(next)
        // sent together, so both clients pipeline them; a key deleted meanwhile answers nulls. Through the
        // store's client, which adds its keyPrefix again (a Cluster's nodes may have another one)
        const results = await Promise.all(keys.filter(key => !key.startsWith(ownerKeys)).map(key => key.slice(keyPrefix.length))
          .map(async key => await this.#link.send(key, ['HMGET', key, '_c', 'm:owner', '_p', '_r', '_h']).catch(() => []) as Array<string | null>))
        for (const [c, o, p, r, h] of results) {
          let [created, owner, prefix] = [c, o, p]
          if ((r !== null && r !== undefined) || (h !== null && h !== undefined)) {
            const packed = packedFields(h, r)
            if (packed === undefined) continue // corrupt: not a session get() reads
            ;[created, owner, prefix] = packed
          }
          if (created === null || created === undefined) continue
          if (prefix !== null && prefix !== undefined && prefix !== held && (keyPrefix === '' || prefix !== this.#prefix)) continue
          sessions++
          const name = ownerOf(owner)
          if (name !== undefined) owners[name] = (owners[name] ?? 0) + 1
        }
      } while (cursor !== '0')
    }
    return { sessions, owners }
  }

  /**
   * The owner's set, each member checked against its session's `m:owner` (the set is only an index). A
   * corrupt member (not a hash, or an owner field that is not JSON) reads as missing, as get() reads it:
   * it is reported once and dropped from the set, and the others are listed.
   */
  async listByOwner (owner: string): Promise<string[]> {
    const key = this.#ownerKey(owner)
    let ids: string[]
    try {
      ids = Array.from(await this.#link.send(key, ['SMEMBERS', key]) as Iterable<string>)
    } catch (err) {
      if (!wrongType(err)) throw err
      this.#reportCorrupt(key, 'an owner index that is not a set') // replaced by the owner's next session
      return []
    }
    const owners = await Promise.all(ids.map(async id => {
      const session = this.#key(id)
      try {
        const [owner, raw, hot] = await this.#link.send(session, ['HMGET', session, 'm:owner', '_r', '_h']) as Array<string | null>
        if ((raw !== null && raw !== undefined) || (hot !== null && hot !== undefined)) {
          const packed = packedFields(hot, raw)
          return packed === undefined ? CORRUPT : readOwner(packed[1])
        }
        return readOwner(owner)
      } catch (err) {
        if (!wrongType(err)) throw err
        this.#reportCorrupt(session, 'not a hash')
        return undefined
      }
    }))
    const live: string[] = []
    const stale: string[] = []
    ids.forEach((id, i) => {
      if (owners[i] === CORRUPT) this.#reportCorrupt(this.#key(id), 'its owner field is not valid JSON')
      ;(owners[i] === owner ? live : stale).push(id)
    })
    if (stale.length > 0) await this.#srem(owner, stale)
    return live
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    return destroyOwned(this, owner, except)
  }
}
