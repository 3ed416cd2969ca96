import type { Pool, QueryResultRow } from 'pg'
import type { PatchResult, PruneOptions, SessionAuth, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { addMissingColumn } from './kit/add-column.js'
import { PREFIX_RULES, prefixProblem } from './kit/text.js'
import { parse, stringify } from './kit/codec.js'
import { entrySize, once, decodeRecord } from './kit/record.js'
import { expiredReport } from './kit/expired-report.js'
import { ownerColumn, ownerOf } from './kit/owner-column.js'
import { driver, flag, positive, type OpenedFromUrl, type StoreUrl } from './kit/url.js'
import { identifiers, live, MERGED_SIZE, own, postgresPrefixColumnDDL, postgresTableDDL, prepared, queryClass, type QueryClass } from './postgres/sql.js'

export { postgresPrefixColumnDDL, postgresTableDDL } from './postgres/sql.js'

export interface PostgresStoreOptions {
  /** a pg (node-postgres) Pool; the store never ends it */
  pool: Pool
  /** table name, optionally `schema.table` (default 'sessions') */
  table?: string
  /** create the table and its indexes when missing (default true); false for teams that manage schema themselves */
  createTable?: boolean
  /** create it UNLOGGED: faster writes, but PostgreSQL empties it after a crash (default false) */
  unlogged?: boolean
  /** key prefix (default '') */
  prefix?: string
}

const PRUNE_BATCH = 5000
interface Row extends QueryResultRow { id: string, data: string, meta: unknown, auth: unknown, version: string, created_at: string, expires: string | null }

/**
 * Sessions in PostgreSQL: one row per session, data as jsonb. Every operation is one statement, atomic
 * without a transaction: a patch merges keys, removes keys, checks the version and the merged size and
 * moves expiry and meta in one UPDATE. Expiry is enforced on read; prune deletes on the expires index.
 */
export class PostgresStore implements SessionStore {
  readonly #pool: Pool
  readonly #Query: QueryClass | undefined
  readonly #table: string
  readonly #tableName: string
  readonly #create: boolean
  readonly #unlogged: boolean
  readonly #prefix: string
  readonly #corrupt = new Set<string>()
  readonly #sql: Record<'get' | 'set' | 'create' | 'patch' | 'classify' | 'rotate' | 'touch' | 'destroy', { name: string, text: string }>

  constructor (options: PostgresStoreOptions) {
    if (options?.pool === null || typeof options?.pool?.query !== 'function' || typeof options.pool.connect !== 'function') {
      throw new TypeError('PostgresStore: `pool` must be a pg Pool')
    }
    this.#pool = options.pool
    this.#Query = queryClass(options.pool)
    this.#tableName = options.table ?? 'sessions'
    this.#table = identifiers(this.#tableName).qualified
    this.#create = options.createTable ?? true
    this.#unlogged = options.unlogged ?? false
    this.#prefix = options.prefix ?? ''
    const problem = prefixProblem(this.#prefix, PREFIX_RULES.postgres)
    if (problem !== undefined) throw new TypeError(`PostgresStore: \`prefix\` ${problem}`)
    const t = this.#table
    // named: each connection parses and plans them once
    this.#sql = prepared({
      get: `SELECT data::text AS data, meta, auth, version, created_at, expires FROM ${t} WHERE id = $1 AND ${live(2)}`,
      set: `INSERT INTO ${t} (id, data, sizes, meta, auth, version, created_at, expires, owner, prefix) VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10)
        ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, sizes = EXCLUDED.sizes, meta = EXCLUDED.meta, auth = EXCLUDED.auth,
        version = EXCLUDED.version, created_at = EXCLUDED.created_at, expires = EXCLUDED.expires, owner = EXCLUDED.owner, prefix = EXCLUDED.prefix`,
      // an expired row is replaced; a live one is left alone (and no row is returned)
      create: `INSERT INTO ${t} AS s (id, data, sizes, meta, auth, version, created_at, expires, owner, prefix) VALUES ($1, $2::jsonb, $3::jsonb, $4::jsonb, $5::jsonb, $6, $7, $8, $9, $10)
        ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, sizes = EXCLUDED.sizes, meta = EXCLUDED.meta, auth = EXCLUDED.auth,
        version = EXCLUDED.version, created_at = EXCLUDED.created_at, expires = EXCLUDED.expires, owner = EXCLUDED.owner, prefix = EXCLUDED.prefix
        WHERE s.expires IS NOT NULL AND s.expires <= $11`,
      patch: `UPDATE ${t} SET data = (data || $5::jsonb) - $3::text[], sizes = (sizes || $4::jsonb) - $3::text[], version = version + 1,
        expires = CASE WHEN $6::boolean THEN $7::bigint ELSE expires END, meta = (meta || $8::jsonb) - $9::text[],
        owner = CASE WHEN $10::boolean THEN $11::text ELSE owner END, prefix = $14
        WHERE id = $1 AND ${live(2)} AND ($12::bigint IS NULL OR version = $12::bigint) AND ($13::bigint IS NULL OR ${MERGED_SIZE} <= $13::bigint)
        AND ($15::double precision IS NULL OR jsonb_typeof(meta->'lastAccessAt') IS DISTINCT FROM 'number' OR (meta->>'lastAccessAt')::double precision <= $15)`,
      classify: `SELECT version, ${MERGED_SIZE} AS merged, CASE WHEN jsonb_typeof(meta->'lastAccessAt') = 'number' THEN (meta->>'lastAccessAt')::double precision END AS written FROM ${t} WHERE id = $1 AND ${live(2)}`,
      rotate: `UPDATE ${t} SET auth = $3::jsonb, prefix = $5 WHERE id = $1 AND ${live(2)} AND auth->'current'->>0 = $4`,
      touch: `UPDATE ${t} SET expires = $3, prefix = $4 WHERE id = $1 AND ${live(2)}`,
      destroy: `DELETE FROM ${t} WHERE id = $1 RETURNING ${live(2)} AS live`
    })
  }

  /** Creates the table when missing (or checks it has the columns this version needs); the plugin awaits this. */
  readonly ready = once(async () => {
    if (this.#create) {
      try {
        await this.#pool.query(postgresTableDDL(this.#tableName, this.#unlogged))
      } catch (err) {
        // two processes creating it at once: one wins, the other sees a duplicate key in the catalog,
        // a duplicate type (the table's row type) or a duplicate relation, depending on when it looked
        if (!['23505', '42710', '42P07'].includes((err as { code?: string }).code ?? '')) throw err
      }
    }
    try {
      await this.#pool.query(`SELECT id, data, sizes, meta, auth, version, created_at, expires, owner FROM ${this.#table} LIMIT 0`)
    } catch (err) {
      if ((err as { code?: string }).code === '42703') {
        throw new Error(`PostgresStore: ${this.#tableName} lacks columns this store needs; compare it with postgresTableDDL() (printed in the README)`, { cause: err })
      }
      if ((err as { code?: string }).code === '42P01') throw new Error(`PostgresStore: table ${this.#tableName} does not exist (createTable is false): create it with postgresTableDDL()`, { cause: err })
      throw err
    }
    await this.#migratePrefix()
  })

  /** A table made before the `prefix` column gets it (a moment's lock, once); with createTable false, a clear error. */
  async #migratePrefix (): Promise<void> {
    await addMissingColumn({
      query: async sql => await this.#pool.query(sql),
      probe: `SELECT prefix FROM ${this.#table} LIMIT 0`,
      ddl: postgresPrefixColumnDDL(this.#tableName),
      missingCode: '42703',
      duplicateCode: '42701',
      alter: this.#create,
      refusal: `PostgresStore: ${this.#tableName} lacks the prefix column (added in this version, createTable is false): run ${postgresPrefixColumnDDL(this.#tableName)}`
    })
  }

  async #run<R extends QueryResultRow> (statement: { name: string, text: string }, values: unknown[]): Promise<{ rows: R[], rowCount: number | null }> {
    if (this.#Query === undefined) return await this.#pool.query<R>({ ...statement, values })
    const query = new this.#Query(statement.text, values)
    query.name = statement.name
    return await (this.#pool.query(query as never) as unknown as Promise<{ rows: R[], rowCount: number | null }>)
  }

  #decode (key: string, row: Row): SessionRecord | undefined {
    return decodeRecord(this.#corrupt, key,
      () => ({ data: parse(row.data), createdAt: Number(row.created_at), expiresAt: row.expires === null ? null : Number(row.expires), version: Number(row.version), auth: row.auth, meta: row.meta }),
      () => `PostgresStore: corrupt session row ${key.slice(0, 16)}… in ${this.#tableName} treated as missing`)
  }

  async get (id: string): Promise<SessionRecord | undefined> {
    await this.ready()
    const key = this.#prefix + id
    const { rows } = await this.#run<Row>(this.#sql.get, [key, Date.now()])
    return rows.length === 0 ? undefined : this.#decode(key, rows[0])
  }

  #row (id: string, r: SessionRecord): unknown[] {
    const sizes: Record<string, number> = {}
    for (const key of Object.keys(r.data)) if (r.data[key] !== undefined) sizes[key] = entrySize(key, r.data[key])
    return [this.#prefix + id, stringify(r.data), JSON.stringify(sizes), JSON.stringify(r.meta), JSON.stringify(r.auth),
      r.version, r.createdAt, r.expiresAt, ownerColumn(r.meta.owner), this.#prefix]
  }

  async set (id: string, r: SessionRecord): Promise<void> {
    await this.ready()
    await this.#run(this.#sql.set, this.#row(id, r))
  }

  /** one INSERT … ON CONFLICT DO UPDATE … WHERE the row has expired */
  async create (id: string, r: SessionRecord): Promise<boolean> {
    await this.ready()
    const { rowCount } = await this.#run(this.#sql.create, [...this.#row(id, r), Date.now()])
    return rowCount === 1
  }

  /** one UPDATE; only when it matched no row, one SELECT says why */
  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    await this.ready()
    const key = this.#prefix + id
    const now = Date.now()
    const set: Record<string, unknown> = {}
    const sizes: Record<string, number> = {}
    const unset = new Set(change.unset)
    for (const k of Object.keys(change.set)) {
      const value = change.set[k]
      if (value === undefined) unset.add(k)
      else if (!unset.has(k)) { set[k] = value; sizes[k] = entrySize(k, value) }
    }
    const metaSet: Record<string, unknown> = {}
    const metaUnset: string[] = []
    for (const [k, v] of Object.entries(change.meta ?? {})) {
      if (v === undefined) metaUnset.push(k)
      else metaSet[k] = v
    }
    const ownerChanged = change.meta !== undefined && Object.hasOwn(change.meta, 'owner')
    const unsetList = [...unset]
    const sizesJson = JSON.stringify(sizes)
    const { rowCount } = await this.#run(this.#sql.patch, [key, now, unsetList, sizesJson, stringify(set), change.expiresAt !== undefined, change.expiresAt ?? null,
      JSON.stringify(metaSet), metaUnset, ownerChanged, ownerColumn(change.meta?.owner), change.ifVersion ?? null, change.maxBytes ?? null, this.#prefix, change.unlessWrittenAfter ?? null])
    if (rowCount === 1) return 'ok'
    const { rows } = await this.#run<{ version: string, merged: string, written: number | null }>(this.#sql.classify, [key, now, unsetList, sizesJson])
    if (rows.length === 0) return 'missing'
    if (change.ifVersion !== undefined && Number(rows[0].version) !== change.ifVersion) return 'conflict'
    if (change.unlessWrittenAfter !== undefined && rows[0].written !== null && rows[0].written > change.unlessWrittenAfter) return 'conflict'
    if (change.maxBytes !== undefined && Number(rows[0].merged) > change.maxBytes) return 'too-large'
    return 'conflict' // changed between the two statements: the caller reads and tries again
  }

  /** one UPDATE conditioned on the current secret hash */
  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    await this.ready()
    const { rowCount } = await this.#run(this.#sql.rotate, [this.#prefix + id, Date.now(), JSON.stringify(auth), from, this.#prefix])
    return rowCount === 1
  }

  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    await this.ready()
    const { rowCount } = await this.#run(this.#sql.touch, [this.#prefix + id, Date.now(), expiresAt, this.#prefix])
    return rowCount === 1
  }

  /** deletes the row, an expired leftover too; true when it was live */
  async destroy (id: string): Promise<boolean> {
    await this.ready()
    const { rows } = await this.#run<{ live: boolean }>(this.#sql.destroy, [this.#prefix + id, Date.now()])
    return rows[0]?.live === true
  }

  /** batched deletes on the expires index, so that a large prune holds no long lock */
  async prune (options?: PruneOptions): Promise<number> {
    await this.ready()
    const where = `expires <= $1 AND ${own(2)}`
    const params = [Date.now(), this.#prefix]
    let total = 0
    if (options?.onProgress !== undefined) {
      total = Number((await this.#pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.#table} WHERE ${where}`, params)).rows[0].n)
    }
    const expired = expiredReport(this.#prefix, options)
    // RETURNING names exactly the rows this DELETE removed (not those a concurrent prune took)
    const returning = expired === undefined ? '' : ' RETURNING id, owner, meta'
    let removed = 0
    for (;;) {
      const { rowCount, rows } = await this.#pool.query<{ id: string, owner: string | null, meta: unknown }>(
        `DELETE FROM ${this.#table} WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${this.#table} WHERE ${where} LIMIT ${PRUNE_BATCH}))${returning}`, params)
      if (expired !== undefined) {
        for (const row of rows) expired.collect(row.id, row.owner === null ? undefined : ownerOf(row.owner, row.meta))
        expired.report()
      }
      removed += rowCount ?? 0
      options?.onProgress?.(Math.min(removed, total), Math.max(total, removed))
      if ((rowCount ?? 0) < PRUNE_BATCH) return removed
    }
  }

  async stats (): Promise<SessionStats> {
    await this.ready()
    // a long owner's name from any row of its group that has it (a corrupt row's meta may not)
    const { rows } = await this.#pool.query<{ owner: string | null, whole: string | null, n: string }>(
      `SELECT owner, min(meta->>'owner') AS whole, count(*) AS n FROM ${this.#table} WHERE ${live(1)} AND ${own(2)} GROUP BY owner`,
      [Date.now(), this.#prefix])
    const owners: Record<string, number> = {}
    let sessions = 0
    for (const row of rows) {
      sessions += Number(row.n)
      if (row.owner !== null) owners[ownerOf(row.owner, { owner: row.whole })] = Number(row.n)
    }
    return { sessions, owners }
  }

  async listByOwner (owner: string): Promise<string[]> {
    await this.ready()
    const { rows } = await this.#pool.query<{ id: string }>(
      `SELECT id FROM ${this.#table} WHERE owner = $1 AND ${live(2)} AND ${own(3)}`,
      [ownerColumn(owner), Date.now(), this.#prefix])
    return rows.map(row => row.id.slice(this.#prefix.length))
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    await this.ready()
    const { rowCount } = await this.#pool.query(
      `DELETE FROM ${this.#table} WHERE owner = $1 AND ${live(2)} AND ${own(3)} AND id <> $4`,
      [ownerColumn(owner), Date.now(), this.#prefix, except === undefined ? '' : this.#prefix + except])
    return rowCount ?? 0
  }
}

/** @internal The store a storage URL names (`postgres://, postgresql://`): stores/url/open.ts calls it, with the URL parse checked. */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  const pg = await driver<{ default: typeof import('pg') }>('pg', 'postgres://')
  const pool = new pg.default.Pool({
    host: url.hosts[0].host,
    port: url.hosts[0].port,
    user: url.username,
    password: url.password,
    database: url.database,
    ssl: flag(url.params.ssl) === true ? { rejectUnauthorized: true } : undefined,
    max: positive(url.params.max) ?? 10,
    // fail fast: a frozen server costs a request these, not a hang
    connectionTimeoutMillis: positive(url.params.connectTimeout) ?? 2000,
    statement_timeout: positive(url.params.statementTimeout) ?? 2000,
    query_timeout: positive(url.params.queryTimeout) ?? 2500,
    keepAlive: true
  })
  pool.on('error', () => {}) // an idle client losing its server; the next query reports it
  const createTable = url.params.createTable === undefined ? undefined : flag(url.params.createTable)
  return {
    store: new PostgresStore({ pool, table: url.params.table, createTable, unlogged: flag(url.params.unlogged), prefix: url.params.prefix }),
    client: async () => { await pool.end() }
  }
}
