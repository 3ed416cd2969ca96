import type { PatchResult, PruneOptions, SessionAuth, SessionMeta, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { destroyOwned } from './kit/owned.js'
import { PREFIX_RULES, prefixProblem } from './kit/text.js'
import { applyPatch, once, decodeRecord } from './kit/record.js'
import { expiredReport } from './kit/expired-report.js'
import { driver, type OpenedFromUrl, type StoreUrl } from './kit/url.js'

/** A session as a MongoDB document. */
export interface SessionDocument {
  _id: string
  data: Record<string, unknown>
  createdAt: number
  /** a Date so that the TTL index can expire it; null = never */
  expires: Date | null
  version: number
  auth: SessionAuth
  meta: SessionMeta
  owner?: string
  /** the prefix of the store that wrote it: scans match it exactly (absent in documents written before it was recorded) */
  prefix?: string
}

type Filter = Record<string, unknown>

/**
 * The only Collection methods the store calls: a real `mongodb` Collection fits, and so does the
 * small in-process fake the tests use when no MongoDB server is available.
 */
export interface SessionCollection {
  findOne (filter: Filter): Promise<SessionDocument | null>
  replaceOne (filter: Filter, doc: Omit<SessionDocument, '_id'>, options: { upsert: true }): Promise<unknown>
  updateOne (filter: Filter, update: Record<string, Record<string, unknown>>): Promise<{ matchedCount: number }>
  deleteOne (filter: Filter): Promise<{ deletedCount: number }>
  deleteMany (filter: Filter): Promise<{ deletedCount: number }>
  findOneAndDelete (filter: Filter, options: { projection: Record<string, 0 | 1> }): Promise<{ _id: string, owner?: string | null } | null>
  find (filter: Filter, options: { projection: Record<string, 0 | 1> }): { toArray (): Promise<Array<{ _id: string }>> }
  createIndex (spec: Record<string, 1 | -1>, options?: { expireAfterSeconds?: number, name?: string }): Promise<string>
}

interface MongoClientLike { db (name?: string): { collection (name: string): unknown } }

export type MongoStoreOptions = ({ collection: SessionCollection } | { client: MongoClientLike, db?: string, collection?: string }) & {
  /** key prefix (default '') */
  prefix?: string
}

function document (record: SessionRecord, prefix: string): Omit<SessionDocument, '_id'> {
  for (const key of Object.keys(record.data)) checkKey(key)
  const doc: Omit<SessionDocument, '_id'> = {
    data: record.data,
    createdAt: record.createdAt,
    expires: record.expiresAt === null ? null : new Date(record.expiresAt),
    version: record.version,
    auth: record.auth,
    meta: record.meta
  }
  if (record.meta.owner !== undefined) doc.owner = record.meta.owner
  doc.prefix = prefix
  return doc
}

const WITHIN_ATTEMPTS = 50
const live = (): Filter => ({ $or: [{ expires: null }, { expires: { $gt: new Date() } }] })
const SAFE_KEY = /^[^.$][^.]*$/

function checkKey (key: string): string {
  if (!SAFE_KEY.test(key)) throw new TypeError(`MongoStore: session keys cannot contain '.' or start with '$' (${JSON.stringify(key)})`)
  return key
}

/**
 * Sessions in MongoDB: documents keyed by `_id`, patch as $set/$unset on `data.<key>` (atomic on the
 * server), a TTL index on `expires` AND expiry filtered on read (the TTL monitor runs every 60 s).
 */
export class MongoStore implements SessionStore {
  readonly #collection: SessionCollection
  readonly #prefix: string
  readonly #corrupt = new Set<string>()

  constructor (options: MongoStoreOptions) {
    if (options !== null && typeof options === 'object' && 'client' in options && options.client !== undefined) {
      if (typeof options.client.db !== 'function') throw new TypeError('MongoStore: `client` must be a MongoClient')
      this.#collection = options.client.db(options.db).collection(options.collection ?? 'sessions') as SessionCollection
    } else if (options !== null && typeof options === 'object' && 'collection' in options && typeof (options.collection as SessionCollection)?.findOne === 'function') {
      this.#collection = options.collection as SessionCollection
    } else {
      throw new TypeError('MongoStore: pass `{ collection }` or `{ client, db?, collection? }`')
    }
    this.#prefix = options.prefix ?? ''
    const problem = prefixProblem(this.#prefix, PREFIX_RULES.mongodb)
    if (problem !== undefined) throw new TypeError(`MongoStore: \`prefix\` ${problem}`)
  }

  /**
   * The store's documents: those it wrote (their `prefix`), and those written before the prefix was
   * recorded whose _id starts with it, as every scan matched them then ('app2…' starts with 'app').
   */
  #own (): Filter {
    return { $or: [{ prefix: this.#prefix }, { prefix: { $exists: false }, _id: { $regex: `^${escapeRegExp(this.#prefix)}` } }] }
  }

  /** Creates the TTL and owner indexes; the plugin awaits this. */
  readonly ready = once(async () => {
    await this.#collection.createIndex({ expires: 1 }, { expireAfterSeconds: 0, name: 'session_expires_ttl' })
    await this.#collection.createIndex({ owner: 1 }, { name: 'session_owner' })
  })

  async get (id: string): Promise<SessionRecord | undefined> {
    await this.ready()
    const doc = await this.#collection.findOne({ _id: this.#prefix + id, ...live() })
    if (doc === null) return undefined
    const expires = doc.expires instanceof Date ? doc.expires.getTime() : doc.expires
    return decodeRecord(this.#corrupt, doc._id, () => ({ data: doc.data, createdAt: doc.createdAt, expiresAt: expires, version: doc.version, auth: doc.auth, meta: doc.meta }),
      () => `MongoStore: corrupt session document ${doc._id.slice(0, 16)}… treated as missing`)
  }

  async set (id: string, record: SessionRecord): Promise<void> {
    await this.ready()
    await this.#collection.replaceOne({ _id: this.#prefix + id }, document(record, this.#prefix), { upsert: true })
  }

  /**
   * One upsert filtered on an expired document: it replaces an expired one, inserts when there is
   * none, and fails on the _id index (E11000) when a live one is there.
   */
  async create (id: string, record: SessionRecord): Promise<boolean> {
    await this.ready()
    try {
      await this.#collection.replaceOne({ _id: this.#prefix + id, expires: { $lte: new Date() } }, document(record, this.#prefix), { upsert: true })
      return true
    } catch (err) {
      if ((err as { code?: number }).code === 11000) return false
      throw err
    }
  }

  /** one filtered update ($set/$unset on data.<key>, $inc on version); a second read only to tell a conflict from a miss */
  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    await this.ready()
    const $set: Record<string, unknown> = {}
    if (change.expiresAt !== undefined) $set.expires = change.expiresAt === null ? null : new Date(change.expiresAt)
    const $unset: Record<string, ''> = {}
    for (const key of Object.keys(change.set)) {
      const value = change.set[key]
      if (value === undefined) $unset[`data.${checkKey(key)}`] = ''
      else $set[`data.${checkKey(key)}`] = value
    }
    for (const key of change.unset) {
      $unset[`data.${checkKey(key)}`] = ''
      delete $set[`data.${key}`] // unset wins, as in every store
    }
    for (const [name, value] of Object.entries(change.meta ?? {})) {
      if (value === undefined) $unset[`meta.${name}`] = ''
      else $set[`meta.${name}`] = value
    }
    if (change.meta !== undefined && 'owner' in change.meta) {
      if (change.meta.owner === undefined) $unset.owner = ''
      else $set.owner = change.meta.owner
    }
    $set.prefix = this.#prefix // labels a document written before the prefix was recorded
    const update: Record<string, Record<string, unknown>> = { $inc: { version: 1 } }
    if (Object.keys($set).length > 0) update.$set = $set
    if (Object.keys($unset).length > 0) update.$unset = $unset
    const filter: Filter = { _id: this.#prefix + id, ...live() }
    if (change.maxBytes !== undefined) return this.#patchWithin(id, change, filter, update)
    if (change.ifVersion !== undefined) filter.version = change.ifVersion
    // a record written later than the bound fails it; one without a number there passes
    if (change.unlessWrittenAfter !== undefined) filter['meta.lastAccessAt'] = { $not: { $gt: change.unlessWrittenAfter } }
    const result = await this.#collection.updateOne(filter, update)
    if (result.matchedCount === 1) return 'ok'
    if (change.ifVersion === undefined && change.unlessWrittenAfter === undefined) return 'missing'
    return await this.#collection.findOne({ _id: this.#prefix + id, ...live() }) === null ? 'missing' : 'conflict'
  }

  /**
   * MongoDB cannot measure the merged data inside one update: read, check the merge with the shared
   * rules, then update only at the version read; again when another patch came between (bounded).
   */
  async #patchWithin (id: string, change: SessionPatch, filter: Filter, update: Record<string, Record<string, unknown>>): Promise<PatchResult> {
    for (let attempt = 0; attempt < WITHIN_ATTEMPTS; attempt++) {
      const record = await this.get(id)
      const version = record?.version
      const result = applyPatch(record, change)
      if (result !== 'ok') return result
      if ((await this.#collection.updateOne({ ...filter, version }, update)).matchedCount === 1) return 'ok'
    }
    throw new Error(`MongoStore: ${WITHIN_ATTEMPTS} attempts to patch one session within maxBytes all met a concurrent patch`)
  }

  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    await this.ready()
    const result = await this.#collection.updateOne({ _id: this.#prefix + id, 'auth.current.0': from, ...live() }, { $set: { auth, prefix: this.#prefix } })
    return result.matchedCount === 1
  }

  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    await this.ready()
    const result = await this.#collection.updateOne({ _id: this.#prefix + id, ...live() }, { $set: { expires: expiresAt === null ? null : new Date(expiresAt), prefix: this.#prefix } })
    return result.matchedCount === 1
  }

  async destroy (id: string): Promise<boolean> {
    await this.ready()
    const { deletedCount } = await this.#collection.deleteOne({ _id: this.#prefix + id, ...live() })
    if (deletedCount === 1) return true
    await this.#collection.deleteOne({ _id: this.#prefix + id }) // an expired leftover the TTL monitor has not reached
    return false
  }

  /** The TTL monitor removes expired documents by itself; this does it now. */
  async prune (options?: PruneOptions): Promise<number> {
    await this.ready()
    const expiredNow = { expires: { $lte: new Date() }, ...this.#own() }
    const expired = expiredReport(this.#prefix, options)
    let removed = 0
    if (expired === undefined) {
      removed = (await this.#collection.deleteMany(expiredNow)).deletedCount
    } else {
      // deleteMany does not say what it removed: one findOneAndDelete each names exactly the
      // documents this prune took (not those a concurrent prune or the TTL monitor took)
      for (let doc; (doc = await this.#collection.findOneAndDelete(expiredNow, { projection: { _id: 1, owner: 1 } })) !== null; removed++) {
        expired.collect(doc._id, doc.owner)
        if (removed % 100 === 99) expired.report()
      }
      expired.report()
    }
    options?.onProgress?.(removed, removed) // server-side deletes: no total known beforehand
    return removed
  }

  async stats (): Promise<SessionStats> {
    await this.ready()
    const docs = await this.#collection.find({ $and: [live(), this.#own()] }, { projection: { _id: 1, owner: 1 } }).toArray() as Array<Partial<SessionDocument> & { _id: string }>
    const owners: Record<string, number> = {}
    let sessions = 0
    for (const doc of docs) {
      sessions++
      if (doc.owner !== undefined && doc.owner !== null) owners[doc.owner] = (owners[doc.owner] ?? 0) + 1
    }
    return { sessions, owners }
  }

  async listByOwner (owner: string): Promise<string[]> {
    await this.ready()
    const docs = await this.#collection.find({ owner, $and: [live(), this.#own()] }, { projection: { _id: 1 } }).toArray()
    return docs.map(d => d._id.slice(this.#prefix.length))
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    return destroyOwned(this, owner, except)
  }
}

function escapeRegExp (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** @internal The store a storage URL names (`mongodb://, mongodb+srv://`): stores/url/open.ts calls it, with the URL parse checked. */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  const { MongoClient } = await driver<typeof import('mongodb')>('mongodb', 'mongodb://')
  const client = new MongoClient(url.driverUrl!, { serverSelectionTimeoutMS: 5000 })
  try {
    await client.connect()
  } catch (err) {
    await client.close().catch(() => {})
    throw err
  }
  return {
    store: new MongoStore({ client, db: url.database ?? 'sessions', collection: url.params.collection, prefix: url.params.prefix }),
    client: async () => client.close()
  }
}
