// PostgresStore's SQL: the table (its DDL, which the README prints), the conditions every statement
// shares, the statements' names, and how a statement is handed to pg.
import { createHash } from 'node:crypto'
import type { Pool } from 'pg'

// index names are `<table>_expires`: the table part leaves room for the suffix within 63 bytes
const TABLE_RE = /^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,54}$/

export function identifiers (table: string): { qualified: string, name: string } {
  if (!TABLE_RE.test(table)) throw new TypeError(`PostgresStore: invalid table name ${JSON.stringify(table)} (letters, digits and _, up to 55 characters, optionally schema.table)`)
  const parts = table.split('.')
  return { qualified: parts.map(p => `"${p}"`).join('.'), name: parts[parts.length - 1] }
}

/**
 * The table the store uses; the README prints it for `createTable: false`. `sizes` holds each data
 * key's size (the contract's measure), so maxBytes is checked inside the UPDATE that merges. `prefix`
 * is the prefix of the store that wrote the row: scans match it exactly (an `id` starting with 'app'
 * may be a session of the prefix 'app2'); NULL in rows written before the column existed.
 */
export function postgresTableDDL (table = 'sessions', unlogged = false): string {
  const { qualified, name } = identifiers(table)
  return `CREATE ${unlogged ? 'UNLOGGED ' : ''}TABLE IF NOT EXISTS ${qualified} (
  id TEXT COLLATE "C" PRIMARY KEY,
  data JSONB NOT NULL,
  sizes JSONB NOT NULL,
  meta JSONB NOT NULL,
  auth JSONB NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires BIGINT,
  owner TEXT COLLATE "C",
  prefix TEXT COLLATE "C"
);
CREATE INDEX IF NOT EXISTS "${name}_expires" ON ${qualified} (expires) WHERE expires IS NOT NULL;
CREATE INDEX IF NOT EXISTS "${name}_owner" ON ${qualified} (owner) WHERE owner IS NOT NULL;`
}

/**
 * Adds the `prefix` column to a table made before it existed (the store runs it unless `createTable` is
 * false); the README prints it.
 */
export function postgresPrefixColumnDDL (table = 'sessions'): string {
  return `ALTER TABLE ${identifiers(table).qualified} ADD COLUMN IF NOT EXISTS prefix TEXT COLLATE "C";`
}

/**
 * The rows of the store whose prefix is parameter `$n`: those it wrote, and those written before the
 * `prefix` column existed (NULL) whose id starts with it, as every scan matched them then.
 */
export const own = (n: number): string => `(prefix = $${n} OR (prefix IS NULL AND starts_with(id, $${n})))`

/** a pg Query (or pg-native's): built from text and values, its statement name set before it is submitted */
export type QueryClass = new (text: string, values: unknown[]) => { name?: string }

/**
 * The Query class of the pool's clients (pg and pg-native both have `Client.Query`). A query handed to
 * `pool.query()` as such an object costs node-postgres 10 µs less than a config object, which it copies
 * property by property and wraps in two promises. Only for pg-pool's own `query()`, which submits it
 * once: a Query object runs once, so a wrapper or subclass that submits its argument again (a retry)
 * would wait forever. Those, and pools without `Client.Query`, get config objects.
 */
export function queryClass (pool: Pool): QueryClass | undefined {
  const Query = (pool as { Client?: { Query?: unknown } }).Client?.Query
  if (typeof Query !== 'function') return undefined
  let proto: unknown = Object.getPrototypeOf(pool)
  while (proto !== null && !Object.hasOwn(proto as object, '_pulseQueue')) proto = Object.getPrototypeOf(proto)
  return proto !== null && pool.query === (proto as Pool).query ? Query as QueryClass : undefined
}

/** the rows that are live (not expired) at parameter `$n` (now): every read and write of a session asks it */
export const live = (n: number): string => `(expires IS NULL OR expires > $${n})`
/** the contract's measure of the data after a merge: the sum of the per-key sizes */
export const MERGED_SIZE = '(SELECT coalesce(sum(v::bigint), 0) FROM jsonb_each_text((sizes || $4::jsonb) - $3::text[]) AS s(k, v))'

/** Names each statement by a hash of its text: one name, one text, on every connection of the pool. */
export function prepared<K extends string> (texts: Record<K, string>): Record<K, { name: string, text: string }> {
  const out = {} as Record<K, { name: string, text: string }>
  for (const key of Object.keys(texts) as K[]) {
    out[key] = { name: `fzs_${key}_${createHash('sha256').update(texts[key]).digest('hex').slice(0, 16)}`, text: texts[key] }
  }
  return out
}
