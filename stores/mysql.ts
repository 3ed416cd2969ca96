import type { Pool, PoolConnection, RowDataPacket, ResultSetHeader } from 'mysql2/promise'
import type { PatchResult, PruneOptions, SessionAuth, SessionPatch, SessionRecord, SessionStats, SessionStore } from '../types/index.js'
import { addMissingColumn } from './kit/add-column.js'
import { PREFIX_RULES, prefixProblem } from './kit/text.js'
import { parse, stringify } from './kit/codec.js'
import { applyPatch, once, decodeRecord } from './kit/record.js'
import { ownerColumn, ownerOf } from './kit/owner-column.js'
import { expiredReport, type ExpiredReport } from './kit/expired-report.js'
import { driver, flag, positive, type OpenedFromUrl, type StoreUrl } from './kit/url.js'
import { COLUMNS, LIVE, OWN, OWNER, OWNER_BYTES, ownerParams, quote, sessionsPrefixColumnDDL, sessionsTableDDL } from './mysql/sql.js'

export { sessionsPrefixColumnDDL, sessionsTableDDL } from './mysql/sql.js'

export interface MySQLStoreOptions {
  /** a mysql2/promise pool; the store never ends it */
  pool: Pool
  /** table name, optionally `database.table` (default 'sessions') */
  table?: string
  /** create the table when missing (default true); false for teams that manage schema themselves */
  createTable?: boolean
  /** key prefix (default '') */
  prefix?: string
  /** ms a query may take before mysql2 gives up on it and its connection (default none: the pool's settings) */
  queryTimeout?: number
}

const PRUNE_BATCH = 5000
interface Row extends RowDataPacket { id: string, data: string, meta: string, auth: string, version: number | string, created_at: number | string, expires: number | string | null }

/**
 * Sessions in MySQL or MariaDB: one row per session, expiry enforced on read and pruned by an
 * index range delete, patch in a transaction with SELECT … FOR UPDATE. All SQL is parameterized.
 */
export class MySQLStore implements SessionStore {
  readonly #pool: Pool
  readonly #table: string
  readonly #tableName: string
  readonly #create: boolean
  readonly #prefix: string
  readonly #corrupt = new Set<string>()
  readonly #timeout: number | undefined

  constructor (options: MySQLStoreOptions) {
    if (options?.pool === null || typeof options?.pool?.query !== 'function' || typeof options.pool.getConnection !== 'function') {
      throw new TypeError('MySQLStore: `pool` must be a mysql2/promise pool')
    }
    this.#pool = options.pool
    this.#tableName = options.table ?? 'sessions'
    this.#table = quote(this.#tableName)
    this.#create = options.createTable ?? true
    this.#prefix = options.prefix ?? ''
    const problem = prefixProblem(this.#prefix, PREFIX_RULES.mysql)
    if (problem !== undefined) throw new TypeError(`MySQLStore: \`prefix\` ${problem}`)
    this.#timeout = options.queryTimeout
  }

  async #query<T extends RowDataPacket[] | ResultSetHeader> (on: Pool | PoolConnection, sql: string, values?: unknown[]): Promise<[T, unknown]> {
    return await on.query<T>({ sql, timeout: this.#timeout }, values)
  }

  /** Creates the table when missing (or checks it exists); the plugin awaits this. */
  readonly ready = once(async () => {
    if (this.#create) await this.#query(this.#pool, sessionsTableDDL(this.#tableName))
    try {
      await this.#query(this.#pool, `SELECT ${COLUMNS}, secret, owner FROM ${this.#table} LIMIT 0`)
    } catch (err) {
      if ((err as { code?: string }).code !== 'ER_BAD_FIELD_ERROR') throw err
      throw new Error(`MySQLStore: ${this.#tableName} was made by fastify-zod-session 0.1 and lacks the columns of store contract v2; 0.1 sessions cannot be read, so drop it (DROP TABLE ${this.#table}) and let the store create it, or give a new \`table\``, { cause: err })
    }
    await this.#migratePrefix()
  })

  /** A table made before the `prefix` column gets it (once); with createTable false, a clear error. */
  async #migratePrefix (): Promise<void> {
    await addMissingColumn({
      query: async sql => await this.#query(this.#pool, sql),
      probe: `SELECT prefix FROM ${this.#table} LIMIT 0`,
      ddl: sessionsPrefixColumnDDL(this.#tableName),
      missingCode: 'ER_BAD_FIELD_ERROR',
      duplicateCode: 'ER_DUP_FIELDNAME',
      alter: this.#create,
      refusal: `MySQLStore: ${this.#tableName} lacks the prefix column (added in this version, createTable is false): run ${sessionsPrefixColumnDDL(this.#tableName)}`
    })
  }

  /** the parameters of OWN; LEFT() counts characters, not UTF-16 units as `length` does */
  #own (): unknown[] {
    return [this.#prefix, [...this.#prefix].length, this.#prefix]
  }

  #decode (row: Row): SessionRecord | undefined {
    return decodeRecord(this.#corrupt, row.id,
      () => ({ data: parse(row.data), createdAt: Number(row.created_at), expiresAt: row.expires === null ? null : Number(row.expires), version: Number(row.version), auth: JSON.parse(row.auth), meta: JSON.parse(row.meta) }),
      () => `MySQLStore: corrupt session row ${row.id.slice(0, 16)}… in ${this.#tableName} treated as missing`)
  }

  async get (id: string): Promise<SessionRecord | undefined> {
    await this.ready()
    const [rows] = await this.#query<Row[]>(this.#pool, `SELECT ${COLUMNS} FROM ${this.#table} WHERE id = ? AND ${LIVE}`, [this.#prefix + id, Date.now()])
    return rows.length === 0 ? undefined : this.#decode(rows[0])
  }

  async set (id: string, r: SessionRecord): Promise<void> {
    await this.ready()
    await this.#query(this.#pool,
      `INSERT INTO ${this.#table} (id, data, meta, auth, secret, version, created_at, expires, owner, prefix) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON DUPLICATE KEY UPDATE data = VALUES(data), meta = VALUES(meta), auth = VALUES(auth), secret = VALUES(secret), version = VALUES(version),
       created_at = VALUES(created_at), expires = VALUES(expires), owner = VALUES(owner), prefix = VALUES(prefix)`,
      [this.#prefix + id, stringify(r.data), JSON.stringify(r.meta), JSON.stringify(r.auth), r.auth.current[0], r.version, r.createdAt, r.expiresAt, ownerColumn(r.meta.owner), this.#prefix])
  }

  /** An INSERT, which fails on the primary key while a row is there; an expired row is deleted first. */
  async create (id: string, r: SessionRecord): Promise<boolean> {
    await this.ready()
    const key = this.#prefix + id
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.#query(this.#pool, `DELETE FROM ${this.#table} WHERE id = ? AND expires <= ?`, [key, Date.now()])
      try {
        await this.#query(this.#pool, `INSERT INTO ${this.#table} (id, data, meta, auth, secret, version, created_at, expires, owner, prefix) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [key, stringify(r.data), JSON.stringify(r.meta), JSON.stringify(r.auth), r.auth.current[0], r.version, r.createdAt, r.expiresAt, ownerColumn(r.meta.owner), this.#prefix])
        return true
      } catch (err) {
        if ((err as { code?: string }).code !== 'ER_DUP_ENTRY') throw err
      }
      // the row there may have expired since the DELETE: only a live one wins
      const [rows] = await this.#query<RowDataPacket[]>(this.#pool, `SELECT 1 FROM ${this.#table} WHERE id = ? AND ${LIVE}`, [key, Date.now()])
      if (rows.length > 0) return false
    }
    return false
  }

  /** `work` in a transaction on one pooled connection: committed when it returns, rolled back when it throws */
  async #transaction<T> (work: (conn: PoolConnection) => Promise<T>): Promise<T> {
    const conn = await this.#pool.getConnection()
    try {
      await conn.beginTransaction()
      const result = await work(conn)
      await conn.commit()
      return result
    } catch (err) {
      await conn.rollback().catch(() => {})
      throw err
    } finally {
      conn.release()
    }
  }

  /** a transaction: SELECT … FOR UPDATE, the merge, one UPDATE (none when the patch does not apply) */
  async patch (id: string, change: SessionPatch): Promise<PatchResult> {
    await this.ready()
    return await this.#transaction(async conn => {
      const [rows] = await this.#query<Row[]>(conn, `SELECT ${COLUMNS} FROM ${this.#table} WHERE id = ? AND ${LIVE} FOR UPDATE`, [this.#prefix + id, Date.now()])
      const record = rows.length === 0 ? undefined : this.#decode(rows[0])
      const result = applyPatch(record, change)
      if (result !== 'ok' || record === undefined) return result
      await this.#query(conn, `UPDATE ${this.#table} SET data = ?, meta = ?, version = ?, expires = ?, owner = ?, prefix = ? WHERE id = ?`,
        [stringify(record.data), JSON.stringify(record.meta), record.version, record.expiresAt, ownerColumn(record.meta.owner), this.#prefix, this.#prefix + id])
      return 'ok'
    })
  }

  /** one UPDATE conditioned on the current secret hash */
  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> {
    await this.ready()
    const [result] = await this.#query<ResultSetHeader>(this.#pool, `UPDATE ${this.#table} SET auth = ?, secret = ?, prefix = ? WHERE id = ? AND secret = ? AND ${LIVE}`,
      [JSON.stringify(auth), auth.current[0], this.#prefix, this.#prefix + id, from, Date.now()])
    return result.affectedRows === 1
  }

  async touch (id: string, expiresAt: number | null): Promise<boolean> {
    await this.ready()
    const [result] = await this.#query<ResultSetHeader>(this.#pool, `UPDATE ${this.#table} SET expires = ?, prefix = ? WHERE id = ? AND ${LIVE}`, [expiresAt, this.#prefix, this.#prefix + id, Date.now()])
    return result.affectedRows === 1
  }

  async destroy (id: string): Promise<boolean> {
    await this.ready()
    const [result] = await this.#query<ResultSetHeader>(this.#pool, `DELETE FROM ${this.#table} WHERE id = ? AND ${LIVE}`, [this.#prefix + id, Date.now()])
    if (result.affectedRows > 0) return true
    await this.#query(this.#pool, `DELETE FROM ${this.#table} WHERE id = ?`, [this.#prefix + id]) // an expired leftover
    return false
  }

  /** index range deletes on `expires`, in batches so that a large prune holds no long lock */
  async prune (options?: PruneOptions): Promise<number> {
    await this.ready()
    const now = Date.now()
    const where = `WHERE expires <= ? AND ${OWN}`
    const params = [now, ...this.#own()]
    let total = 0
    if (options?.onProgress !== undefined) {
      const [rows] = await this.#query<RowDataPacket[]>(this.#pool, `SELECT COUNT(*) AS n FROM ${this.#table} ${where}`, params)
      total = Number(rows[0].n)
      options.onProgress(0, total)
    }
    const expired = expiredReport(this.#prefix, options)
    let removed = 0
    for (;;) {
      const count = expired === undefined
        ? (await this.#query<ResultSetHeader>(this.#pool, `DELETE FROM ${this.#table} ${where} LIMIT ${PRUNE_BATCH}`, params))[0].affectedRows
        : await this.#pruneReporting(where, params, expired)
      removed += count
      options?.onProgress?.(Math.min(removed, total), Math.max(total, removed))
      if (count < PRUNE_BATCH) return removed
    }
  }

  /**
   * One batch whose removed rows are named (MySQL has no DELETE … RETURNING): the rows are locked by
   * SELECT … FOR UPDATE, so a concurrent prune waits and then finds them gone; each is reported once.
   */
  async #pruneReporting (where: string, params: unknown[], expired: ExpiredReport): Promise<number> {
    const rows = await this.#transaction(async conn => {
      const [rows] = await this.#query<RowDataPacket[]>(conn, `SELECT id, owner, meta FROM ${this.#table} ${where} LIMIT ${PRUNE_BATCH} FOR UPDATE`, params)
      if (rows.length > 0) await this.#query(conn, `DELETE FROM ${this.#table} WHERE id IN (?)`, [rows.map(row => row.id as string)])
      return rows
    })
    for (const row of rows) expired.collect(String(row.id), row.owner === null ? undefined : ownerOf(String(row.owner), row.meta))
    expired.report()
    return rows.length
  }

  async stats (): Promise<SessionStats> {
    await this.ready()
    const [rows] = await this.#query<RowDataPacket[]>(this.#pool,
      `SELECT owner, MIN(CASE WHEN JSON_VALID(meta) THEN meta END) AS meta, COUNT(*) AS n FROM ${this.#table} WHERE ${LIVE} AND ${OWN} GROUP BY owner, ${OWNER_BYTES}`,
      [Date.now(), ...this.#own()])
    const owners: Record<string, number> = {}
    let sessions = 0
    for (const row of rows) {
      sessions += Number(row.n)
      if (row.owner === null) continue
      owners[ownerOf(String(row.owner), row.meta)] = Number(row.n)
    }
    return { sessions, owners }
  }

  async listByOwner (owner: string): Promise<string[]> {
    await this.ready()
    const [rows] = await this.#query<Row[]>(this.#pool,
      `SELECT id FROM ${this.#table} WHERE ${OWNER} AND ${LIVE} AND ${OWN}`,
      [...ownerParams(owner), Date.now(), ...this.#own()])
    return rows.map(row => row.id.slice(this.#prefix.length))
  }

  async destroyByOwner (owner: string, except?: string): Promise<number> {
    await this.ready()
    const [result] = await this.#query<ResultSetHeader>(this.#pool,
      `DELETE FROM ${this.#table} WHERE ${OWNER} AND ${LIVE} AND ${OWN} AND id <> ?`,
      [...ownerParams(owner), Date.now(), ...this.#own(), except === undefined ? '' : this.#prefix + except])
    return result.affectedRows
  }
}

/** @internal The store a storage URL names (`mysql://, mariadb://`): stores/url/open.ts calls it, with the URL parse checked. */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  const mysql = await driver<typeof import('mysql2/promise')>('mysql2/promise', 'mysql://')
  const pool = mysql.createPool({
    host: url.hosts[0].host,
    port: url.hosts[0].port,
    user: url.username,
    password: url.password,
    database: url.database,
    connectionLimit: positive(url.params.connectionLimit) ?? 10,
    connectTimeout: positive(url.params.connectTimeout) ?? 2000,
    enableKeepAlive: true
  })
  const createTable = url.params.createTable === undefined ? undefined : flag(url.params.createTable)
  const queryTimeout = positive(url.params.queryTimeout) ?? 2000
  return { store: new MySQLStore({ pool, table: url.params.table, createTable, prefix: url.params.prefix, queryTimeout }), client: async () => pool.end() }
}
