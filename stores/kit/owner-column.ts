import { createHash } from 'node:crypto'

/** owners longer than this are indexed by their hash: an indexed column must stay small (MySQL VARCHAR(255), a PostgreSQL btree entry) */
export const OWNER_COLUMN_MAX = 255
const HASHED = 'sha256:'

/** What an SQL store's indexed owner column holds: the owner itself, or the hash of a longer one (the owner is kept whole in meta). */
export function ownerColumn (owner: string | undefined | null): string | null {
  if (owner === undefined || owner === null) return null
  return owner.length <= OWNER_COLUMN_MAX ? owner : HASHED + createHash('sha256').update(owner).digest('hex')
}

/** The owner a column value stands for: the column itself, or (when it is a hash) the owner kept in meta. */
export function ownerOf (column: string, meta: unknown): string {
  if (!column.startsWith(HASHED)) return column
  const parsed = typeof meta === 'string' ? JSON.parse(meta) as { owner?: unknown } : meta as { owner?: unknown }
  return typeof parsed?.owner === 'string' ? parsed.owner : column
}
