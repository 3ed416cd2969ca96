import { createHash } from 'node:crypto'

/** owners longer than this are indexed by their hash: an indexed column must stay small (MySQL VARCHAR(255), a PostgreSQL btree entry) */
export const OWNER_COLUMN_MAX = 255
const HASHED = 'sha256:'

/** What an SQL store's indexed owner column holds: the owner itself, or the hash of a longer one (the owner is kept whole in meta). */
export function ownerColumn (owner: string | undefined | null): string | null {
  if (owner === undefined || owner === null) return null
  return owner.length <= OWNER_COLUMN_MAX ? owner : HASHED + createHash('sha256').update(owner).digest('hex')
}

/**
 * The owner a column value stands for: the column itself, or (when it is a hash) the owner kept in meta
 * (an object, or its JSON). A meta that is not JSON or names no owner (a corrupt row) leaves the hash:
 * one corrupt row never fails a whole scan.
 */
export function ownerOf (column: string, meta: unknown): string {
  if (!column.startsWith(HASHED)) return column
  let parsed: unknown = meta
  if (typeof meta === 'string') {
    try {
      parsed = JSON.parse(meta)
    } catch {
      return column
    }
  }
  const owner = parsed !== null && typeof parsed === 'object' ? (parsed as { owner?: unknown }).owner : undefined
  return typeof owner === 'string' ? owner : column
}
