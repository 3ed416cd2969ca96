// The record rules every store shares, written once: what counts as live, how a patch and a
// rotation apply, and the one corrupt-record policy (decodeRecord: anything malformed is reported
// once and treated as missing).
import type { PatchResult, SessionAuth, SessionMeta, SessionPatch, SessionRecord } from '../../types/index.js'
import { stringify } from './codec.js'
import { isPlainObject, MAX_DEPTH } from './json-tree.js'
import { warnOnce } from './warn-once.js'

const STRING_META = ['ip', 'userAgent', 'lastAccessIp', 'owner'] as const
const NUMBER_META = ['lastAccessAt', 'absoluteExpiresAt', 'authenticatedAt', 'createdAtHr'] as const

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

/** A record is live until its expiry (null = never). */
export function isLive (record: { expiresAt: number | null }, now = Date.now()): boolean {
  return record.expiresAt === null || record.expiresAt > now
}

/** A data object immune to prototype keys: `__proto__` is an ordinary key of it. */
export function dataObject (): Record<string, unknown> {
  return Object.create(null) as Record<string, unknown>
}

/** The own enumerable keys of `from` in a prototype-free object (`from` itself when it is one). */
export function toDataObject (from: Record<string, unknown>): Record<string, unknown> {
  if (Object.getPrototypeOf(from) === null) return from
  const data = dataObject()
  for (const key of Object.keys(from)) data[key] = from[key]
  return data
}

function usableAuth (value: unknown): SessionAuth | null {
  if (!isObject(value) || !Array.isArray(value.current) || !Array.isArray(value.replaced)) return null
  if (value.current.length === 0 || !value.current.every(hash => typeof hash === 'string')) return null
  const replaced: Array<[string, number]> = []
  for (const entry of value.replaced) {
    if (Array.isArray(entry) && typeof entry[0] === 'string' && isTime(entry[1])) replaced.push([entry[0], entry[1]])
  }
  const auth: SessionAuth = { current: [...value.current as string[]], replaced }
  if (isTime(value.rotateAt)) auth.rotateAt = value.rotateAt
  return auth
}

/**
 * A record already checked (by usableRecord, or built by a store from records the plugin gave it in
 * this process): the plugin does not check it again. A class, not a WeakSet of records: an
 * `instanceof` costs a tenth of a WeakSet's add and has, and leaves the GC no weak table to sweep;
 * a copy of a checked record (a spread, a parse) is a plain object and is checked again.
 */
export class CheckedRecord implements SessionRecord {
  constructor (
    public data: Record<string, unknown>,
    public createdAt: number,
    public expiresAt: number | null,
    public version: number,
    public auth: SessionAuth,
    public meta: SessionMeta
  ) {}
}

/**
 * What a store read back, checked before anyone trusts it: a corrupt row, a 0.1 record, or one
 * written by something else gives `null` (treat as missing and report once), never a crash.
 * Meta fields of the wrong type are dropped. `undefined`/`null` in give `undefined` out.
 */
export function usableRecord (value: unknown): SessionRecord | undefined | null {
  if (value === undefined || value === null) return undefined
  if (value instanceof CheckedRecord) return value // a store already checked it: the plugin does not pay twice
  if (!isObject(value) || !isObject(value.data) || !isTime(value.createdAt) || !isTime(value.version)) return null
  if (value.expiresAt !== null && !isTime(value.expiresAt)) return null
  const auth = usableAuth(value.auth)
  if (auth === null) return null
  const meta: SessionMeta = {}
  if (isObject(value.meta)) {
    for (const k of STRING_META) if (typeof value.meta[k] === 'string') meta[k] = value.meta[k] as string
    for (const k of NUMBER_META) if (isTime(value.meta[k])) meta[k] = value.meta[k] as number
    const idle = value.meta.idleTimeout
    if (idle === null || (isTime(idle) && idle > 0)) meta.idleTimeout = idle
    if (value.meta.absoluteExpiresAt === null) meta.absoluteExpiresAt = null // refresh({ absoluteTimeout: null })
  }
  return new CheckedRecord(toDataObject(value.data), value.createdAt, value.expiresAt as number | null, value.version, auth, meta)
}

/**
 * The one corrupt-record policy, used by every store that reads records back from its backend.
 * `read` turns what the backend holds into a record-shaped value for usableRecord; it may throw (bad
 * JSON, a field missing) and returns undefined when there is no record at all (nothing to report).
 * A throw, or a value usableRecord rejects (null included), is a corrupt record: a process warning
 * (FST_SESSION_CORRUPT_RECORD, the message `describe` gives) once per `key` in `seen`, and the
 * record reads as missing. Never a crash: a corrupt row costs its session, not the request.
 */
export function decodeRecord (seen: Set<string>, key: string, read: () => unknown, describe: () => string): SessionRecord | undefined {
  let record: SessionRecord | undefined | null = null
  try {
    const value = read()
    if (value === undefined) return undefined
    record = usableRecord(value)
  } catch {}
  if (record === null || record === undefined) {
    warnOnce(seen, key, describe())
    return undefined
  }
  return record
}

/** Merges meta, removing fields set to undefined. */
export function mergeMeta (meta: SessionMeta, change: Partial<SessionMeta> | undefined): SessionMeta {
  if (change === undefined) return meta
  const merged: Record<string, unknown> = { ...meta }
  for (const k of Object.keys(change)) {
    const v = change[k as keyof SessionMeta]
    if (v === undefined) delete merged[k]
    else merged[k] = v
  }
  return merged as SessionMeta
}

/** The contract's measure of one key and its value: UTF-8 bytes of the key and of the serialized value. */
export function entrySize (key: string, value: unknown): number {
  return Buffer.byteLength(key) + Buffer.byteLength(stringify(value))
}

/** The contract's measure of session data (SessionPatch.maxBytes, the plugin's maxDataBytes). */
export function dataSize (data: Record<string, unknown>): number {
  let bytes = 0
  for (const key of Object.keys(data)) if (data[key] !== undefined) bytes += entrySize(key, data[key])
  return bytes
}

/** bytes of a JSON number at most ("-1.7976931348623157e+308"), of a Date as the codec writes it */
const NUMBER_BYTES = 25
const DATE_BYTES = 48

/**
 * An upper bound on the JSON bytes of `value` (6 bytes per UTF-16 unit of a string, the longest
 * number): a walk with no string built. Stops once past `budget`; Infinity for what it cannot bound.
 */
function boundBytes (value: unknown, budget: number, depth = 0): number {
  switch (typeof value) {
    case 'string': return 2 + 6 * value.length
    case 'number': return NUMBER_BYTES
    case 'boolean': return 5
    case 'undefined': return 4 // null in an array; a dropped object value only loosens the bound
    case 'object': break
    default: return Infinity
  }
  if (value === null) return 4
  if (value instanceof Date) return DATE_BYTES
  if (depth > MAX_DEPTH) return Infinity
  let bytes = 2
  if (Array.isArray(value)) {
    for (const item of value) if ((bytes += 1 + boundBytes(item, budget - bytes, depth + 1)) > budget) return bytes
    return bytes
  }
  if (!isPlainObject(value)) return Infinity
  for (const key of Object.keys(value)) {
    if ((bytes += 4 + 6 * key.length + boundBytes((value as Record<string, unknown>)[key], budget - bytes, depth + 1)) > budget) return bytes
  }
  return bytes
}

/**
 * The size of `data` (as dataSize) when it is over `limit`, else undefined. Small data is cleared by
 * an upper bound, without serializing it.
 */
export function oversize (data: Record<string, unknown>, limit: number): number | undefined {
  let bound = 0
  for (const key of Object.keys(data)) {
    if (data[key] !== undefined && (bound += 3 * key.length + boundBytes(data[key], limit - bound)) > limit) break
  }
  if (bound <= limit) return undefined
  const bytes = dataSize(data)
  return bytes > limit ? bytes : undefined
}

/** The size `data` would have once `change` is merged into it, without changing it. */
function mergedSize (data: Record<string, unknown>, change: SessionPatch): number {
  let bytes = 0
  const unset = new Set(change.unset)
  for (const key of Object.keys(data)) {
    if (!unset.has(key) && !Object.hasOwn(change.set, key) && data[key] !== undefined) bytes += entrySize(key, data[key])
  }
  for (const key of Object.keys(change.set)) if (!unset.has(key) && change.set[key] !== undefined) bytes += entrySize(key, change.set[key])
  return bytes
}

/** the record's last write is later than a patch's `unlessWrittenAfter`: the patch is too late to apply */
export function writtenAfter (meta: SessionMeta, bound: number | undefined): boolean {
  return bound !== undefined && typeof meta.lastAccessAt === 'number' && meta.lastAccessAt > bound
}

/**
 * Applies a patch to a record read under the store's lock (or in its cas loop), in place.
 * Returns what the store must answer; the record is changed only for 'ok'.
 */
export function applyPatch (record: SessionRecord | undefined, change: SessionPatch, now = Date.now()): PatchResult {
  if (record === undefined || !isLive(record, now)) return 'missing'
  if (change.ifVersion !== undefined && record.version !== change.ifVersion) return 'conflict'
  if (writtenAfter(record.meta, change.unlessWrittenAfter)) return 'conflict'
  if (change.maxBytes !== undefined && mergedSize(record.data, change) > change.maxBytes) return 'too-large'
  for (const key of Object.keys(change.set)) {
    const value = change.set[key]
    if (value === undefined) delete record.data[key]
    else record.data[key] = value
  }
  for (const key of change.unset) delete record.data[key]
  record.meta = mergeMeta(record.meta, change.meta)
  if (change.expiresAt !== undefined) record.expiresAt = change.expiresAt
  record.version++
  return 'ok'
}

/** Replaces the auth of a live record whose current secret hash is `from`, in place. */
export function applyRotate (record: SessionRecord | undefined, from: string, auth: SessionAuth, now = Date.now()): boolean {
  if (record === undefined || !isLive(record, now) || record.auth.current[0] !== from) return false
  record.auth = { current: [...auth.current], replaced: auth.replaced.map(([hash, until]) => [hash, until]), ...(auth.rotateAt === undefined ? {} : { rotateAt: auth.rotateAt }) }
  return true
}

/** Memoizes an async opener; a failed attempt is forgotten so that ready() can be retried. */
export function once (open: () => Promise<void>): () => Promise<void> {
  let opening: Promise<void> | null = null
  return () => {
    opening ??= open().catch(err => { opening = null; throw err })
    return opening
  }
}
