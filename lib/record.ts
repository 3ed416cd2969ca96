import type { SessionMeta, SessionRecord } from '../types/index.js'

const STRING_META = ['ip', 'userAgent', 'lastAccessIp', 'owner', 'rotatedTo'] as const
const NUMBER_META = ['lastAccessAt', 'rotateAt', 'absoluteExpiresAt'] as const

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/**
 * What a store handed back, checked before the plugin trusts it: a corrupt row, a record written by
 * something else or a half-migrated one gives `undefined` (a fresh session), never a crash.
 * Meta fields of the wrong type are dropped.
 */
export function usableRecord (value: unknown): SessionRecord | undefined | null {
  if (value === undefined || value === null) return undefined
  if (!isObject(value) || !isObject(value.data) || !isTime(value.createdAt)) return null
  if (value.expiresAt !== null && !isTime(value.expiresAt)) return null
  const meta: SessionMeta = {}
  if (isObject(value.meta)) {
    for (const k of STRING_META) if (typeof value.meta[k] === 'string') meta[k] = value.meta[k] as string
    for (const k of NUMBER_META) if (isTime(value.meta[k])) meta[k] = value.meta[k] as number
    const idle = value.meta.idleTimeout
    if (idle === null || (isTime(idle) && idle > 0)) meta.idleTimeout = idle
  }
  return { data: value.data, createdAt: value.createdAt, expiresAt: value.expiresAt as number | null, meta }
}
