// How RedisStore writes a session into its hash and reads it back (see scripts.ts for both layouts):
// the set and create scripts' arguments, packed for a client that gains from it, and the packed
// layout's `_h` and `_r` decoded as get(), stats() and listByOwner() read them.
import type { SessionMeta, SessionRecord } from '../../types/index.js'
import { parse, stringify } from '../kit/codec.js'
import { dataObject } from '../kit/record.js'
import type { RedisLayout } from './layout.js'

/** a key's expiry as the scripts take it: '' for never */
export const expiry = (at: number | null): string => at === null ? '' : String(at)

/**
 * A script's arguments packed in two (see scripts.ts), from `from` arguments on (the link's packFrom): a
 * client spends per argument as well as per byte (0.2's create of 35 arguments cost ioredis 27 µs, one
 * 14 µs; node-redis 9.4 and 6.0). Their count, then each followed by a NUL, which Lua's struct.unpack
 * splits in C: Redis spends ~1 µs on that against ~5 µs to split by byte lengths in Lua (a create of 11
 * arguments). JSON never holds a raw NUL, so only a data field's name can: arguments holding one are sent
 * apart. A lone surrogate at the end of an argument cannot pair with the NUL after it, so each argument
 * has the bytes it would have alone.
 */
export function packArgs (args: string[], from: number): string[] {
  if (args.length < from) return args
  let joined = ''
  for (const arg of args) {
    if (arg.includes('\0')) return args
    joined += arg + '\0'
  }
  return [String(args.length), joined]
}

/** an `m:owner` field that is not a JSON string: the hash is corrupt */
export const CORRUPT = Symbol('corrupt owner field')

/**
 * the owner an `m:owner` field holds: undefined when none (or not a string, which get() drops too),
 * CORRUPT when it is not JSON (get() reads the whole hash as missing then)
 */
export function readOwner (field: string | null | undefined): string | undefined | typeof CORRUPT {
  if (field === null || field === undefined || field === '') return undefined
  try {
    const owner: unknown = JSON.parse(field)
    return typeof owner === 'string' ? owner : undefined
  } catch {
    return CORRUPT
  }
}

/** the owner an `m:owner` field holds, undefined when none or corrupt (a corrupt hash reads as missing) */
export function ownerOf (field: string | null | undefined): string | undefined {
  const owner = readOwner(field)
  return owner === CORRUPT ? undefined : owner
}
/** `_v` and `_b`: counts the scripts do arithmetic on, so anything but digits makes the hash corrupt */
const COUNT_RE = /^\d{1,15}$/

/** a meta value as JSON: a finite number as String() writes it (what JSON.stringify writes, for a tenth of the cost) */
export const metaJson = (value: unknown): string => typeof value === 'number' && Number.isFinite(value) ? String(value) : JSON.stringify(value)

export function metaFields (meta: Partial<SessionMeta>, set: string[], unset: string[]): void {
  for (const name of Object.keys(meta)) {
    const value = meta[name as keyof SessionMeta]
    if (value === undefined) unset.push(`m:${name}`)
    else set.push(`m:${name}`, metaJson(value))
  }
}

/** the data's `d:` field/value pairs, and their size as the contract measures it */
function dataFields (data: Record<string, unknown>, fields: string[]): number {
  let bytes = 0
  for (const k of Object.keys(data)) {
    if (data[k] === undefined) continue
    const value = stringify(data[k])
    fields.push(`d:${k}`, value)
    bytes += Buffer.byteLength(k) + Buffer.byteLength(value)
  }
  return bytes
}

/** the set and create scripts' ARGV: the expiry, then the hash's field/value pairs (see scripts.ts for both layouts) */
export function recordArgs (record: SessionRecord, prefix: string, layout: RedisLayout): string[] {
  const at = expiry(record.expiresAt)
  if (layout === 'packed') {
    const fields = [at, '_h', '', '_r', '']
    const bytes = dataFields(record.data, fields)
    const meta: Record<string, string> = {}
    let written = ''
    for (const name of Object.keys(record.meta)) {
      const value = record.meta[name as keyof SessionMeta]
      if (value === undefined) continue
      if (name === 'lastAccessAt') written = metaJson(value)
      else meta[name] = metaJson(value)
    }
    fields[2] = `${record.version} ${bytes} ${at} ${written}`
    fields[4] = JSON.stringify([String(record.createdAt), prefix, JSON.stringify(record.auth), meta])
    return fields
  }
  const fields = [at, '_c', String(record.createdAt), '_e', at, '_v', String(record.version), '_a', JSON.stringify(record.auth), '_p', prefix]
  fields.push('_b', String(dataFields(record.data, fields)))
  metaFields(record.meta, fields, [])
  return fields
}

const HOT_RE = /^(\d{1,15}) (\d{1,15}) (\d{0,15}) (.*)$/s

type Cold = [createdAt: string, prefix: string, auth: string, meta: Record<string, string>]

/** `_r` parsed, or undefined when it is not exactly four parts of strings (what the scripts' cjson writes back as it read) */
function cold (raw: string | null | undefined): Cold | undefined {
  let r: unknown
  try {
    r = JSON.parse(raw ?? '')
  } catch {
    return undefined
  }
  if (!Array.isArray(r) || r.length !== 4 || typeof r[0] !== 'string' || typeof r[1] !== 'string' || typeof r[2] !== 'string' ||
    typeof r[3] !== 'object' || r[3] === null || !Object.values(r[3]).every(v => typeof v === 'string')) return undefined
  return r as Cold
}

/** a packed hash's `_h` and `_r` as get() reads them (throws on anything else: the hash is corrupt) */
function unpack (hot: string | undefined, raw: string | undefined, data: Record<string, unknown>): SessionRecord | undefined {
  const h = HOT_RE.exec(hot ?? '')
  const r = cold(raw)
  if (h === null || r === undefined) throw new Error('_h or _r is not a packed record')
  const expiresAt = h[3] === '' ? null : Number(h[3])
  if (expiresAt !== null && expiresAt <= Date.now()) return undefined
  const meta: Record<string, unknown> = {}
  const texts = r[3]
  for (const name of Object.keys(texts)) meta[name] = JSON.parse(texts[name])
  if (h[4] !== '') meta.lastAccessAt = JSON.parse(h[4])
  return { data, createdAt: Number(r[0]), expiresAt, version: Number(h[1]), auth: JSON.parse(r[2]), meta }
}

/**
 * createdAt, the owner (as JSON, as `m:owner` holds it) and the prefix of a packed hash (`_h`, `_r`);
 * undefined when it is corrupt as get() reads it
 */
export function packedFields (hot: string | null | undefined, raw: string | null | undefined): [string, string | null, string] | undefined {
  const r = cold(raw)
  if (r === undefined || !HOT_RE.test(hot ?? '')) return undefined
  return [r[0], r[3].owner ?? null, r[1]]
}

/**
 * A session's hash (HGETALL's fields and values) as get() reads it, in either layout: undefined when it
 * is not a session or has expired; throws when it is corrupt.
 */
export function recordOf (hash: string[]): SessionRecord | undefined {
  const data = dataObject()
  const metaTexts: string[] = []
  const own: Record<string, string> = {}
  for (let i = 0; i < hash.length; i += 2) {
    const field = hash[i]
    if (field.startsWith('d:')) data[field.slice(2)] = parse(hash[i + 1])
    else if (field.startsWith('m:')) metaTexts.push(field, hash[i + 1])
    else own[field] = hash[i + 1]
  }
  if (own._r !== undefined || own._h !== undefined) return unpack(own._h, own._r, data)
  if (own._c === undefined) return undefined
  const meta: Record<string, unknown> = {}
  for (let i = 0; i < metaTexts.length; i += 2) meta[metaTexts[i].slice(2)] = JSON.parse(metaTexts[i + 1])
  if (!COUNT_RE.test(own._v ?? '') || !COUNT_RE.test(own._b ?? '0')) throw new Error('_v or _b is not a count')
  const expiresAt = own._e === undefined || own._e === '' ? null : Number(own._e)
  if (expiresAt !== null && expiresAt <= Date.now()) return undefined
  return { data, createdAt: Number(own._c), expiresAt, version: Number(own._v), auth: JSON.parse(own._a), meta }
}
