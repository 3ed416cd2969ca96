// MySQLStore's SQL: the table (its DDL, which the README prints) and the conditions every statement shares.
import { ownerColumn } from '../kit/owner-column.js'

const TABLE_RE = /^(?:[A-Za-z_][A-Za-z0-9_]{0,63}\.)?[A-Za-z_][A-Za-z0-9_]{0,63}$/

/**
 * The table the store uses; the README prints it for `createTable: false`. `prefix` is the prefix of the
 * store that wrote the row: scans match it exactly (an `id` starting with 'app' may be a session of the
 * prefix 'app2'); NULL in rows written before the column existed.
 */
export function sessionsTableDDL (table = 'sessions'): string {
  return `CREATE TABLE IF NOT EXISTS ${quote(table)} (
  id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  data LONGTEXT NOT NULL,
  meta TEXT NOT NULL,
  auth TEXT NOT NULL,
  secret VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  expires BIGINT NULL,
  owner VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  prefix VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  PRIMARY KEY (id),
  KEY sessions_expires (expires),
  KEY sessions_owner (owner)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`
}

/**
 * Adds the `prefix` column to a table made before it existed (the store runs it unless `createTable` is
 * false); the README prints it.
 */
export function sessionsPrefixColumnDDL (table = 'sessions'): string {
  return `ALTER TABLE ${quote(table)} ADD COLUMN prefix VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`
}

/**
 * The rows of the store (three parameters: the prefix, its length, the prefix): those it wrote, and
 * those written before the `prefix` column existed (NULL) whose id starts with it, as every scan
 * matched them then.
 */
export const OWN = '(prefix = ? OR (prefix IS NULL AND LEFT(id, ?) = ?))'

export function quote (table: string): string {
  if (!TABLE_RE.test(table)) throw new TypeError(`MySQLStore: invalid table name ${JSON.stringify(table)}`)
  return table.split('.').map(part => `\`${part}\``).join('.')
}

export const COLUMNS = 'id, data, meta, auth, version, created_at, expires'
/**
 * The owner column's bytes: utf8mb4_bin is a PAD SPACE collation, which compares and groups 'ann' and
 * 'ann ' as one owner; comparing the lengths too keeps them apart (and `owner = ?` keeps the index).
 */
export const OWNER_BYTES = 'LENGTH(owner)'
/** the rows of one owner (two parameters: ownerParams) */
export const OWNER = `(owner = ? AND ${OWNER_BYTES} = ?)`
export function ownerParams (owner: string): [string, number] {
  const column = ownerColumn(owner) as string // a string owner has a column value
  return [column, Buffer.byteLength(column)]
}
/** the rows that are live (not expired) at the parameter `?` (now): every read and write of a session asks it */
export const LIVE = '(expires IS NULL OR expires > ?)'
