// The store as requests see it with encryption at rest: every data value and the recorded IPs and
// User-Agent go in sealed (lib/key-ring.ts) and come out opened. Per key, so per-key patches still merge
// in the store. fastify.sessionStore stays the store itself: what it hands out is ciphertext.
import type { FastifyBaseLogger } from 'fastify'
import type { SessionMeta, SessionPatch, SessionRecord, SessionStore } from '../types/index.js'
import { dataObject } from '../stores/kit/record.js'
import { SealError, type KeyRing } from './key-ring.js'

/** the meta fields that are personal data; owner stays readable: the store indexes it */
const SEALED_META = ['ip', 'userAgent', 'lastAccessIp'] as const
type SealedField = typeof SEALED_META[number]
const PASSED = ['rotate', 'touch', 'destroy', 'prune', 'watchExpired', 'stats', 'listByOwner', 'destroyByOwner', 'ready', 'close'] as const
/** sessions remembered as read under an older key (or unencrypted), awaiting their next write */
const MAX_STALE = 10_000
const MAX_WARNED = 10_000

/** the values of one record that are not sealed under the current key, as read at `version` */
export interface Stale { version: number, data: Record<string, unknown>, meta: Partial<Pick<SessionMeta, SealedField>> }

const dataAad = (id: string, key: string): string => `${id}\nd\n${key}`
const metaAad = (id: string, field: string): string => `${id}\nm\n${field}`

export function sealedStore (store: SessionStore, ring: KeyRing, log: FastifyBaseLogger): SessionStore {
  const stale = new Map<string, Stale>()
  const warned = new Set<string>()
  const source = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  const sealed: Record<string, unknown> = { constructor: store.constructor, synchronous: store.synchronous }
  for (const method of PASSED) if (typeof source[method] === 'function') sealed[method] = source[method].bind(store)

  const sealMeta = (id: string, meta: Partial<SessionMeta>): Partial<SessionMeta> => {
    let out = meta
    for (const field of SEALED_META) {
      const value = meta[field]
      if (typeof value !== 'string') continue
      if (out === meta) out = { ...meta }
      out[field] = ring.seal(value, metaAad(id, field))
    }
    return out
  }
  const sealData = (id: string, data: Record<string, unknown>): Record<string, unknown> => {
    const out = dataObject()
    for (const key of Object.keys(data)) out[key] = data[key] === undefined ? undefined : ring.seal(data[key], dataAad(id, key))
    return out
  }
  const sealRecord = (id: string, record: SessionRecord): SessionRecord =>
    ({ ...record, data: sealData(id, record.data), meta: sealMeta(id, record.meta) as SessionMeta })

  sealed.get = async (id: string): Promise<SessionRecord | undefined> => {
    const record = await store.get(id)
    if (record === undefined) return undefined
    try {
      const { opened, old } = openRecord(ring, id, record)
      if (old !== undefined) {
        if (stale.size >= MAX_STALE) stale.delete(stale.keys().next().value as string)
        stale.set(id, old)
      } else if (stale.size > 0) {
        stale.delete(id)
      }
      return opened
    } catch (err) {
      if (!(err instanceof SealError)) throw err
      if (!warned.has(id)) {
        if (warned.size >= MAX_WARNED) warned.clear()
        warned.add(id)
        log.warn({ session: id, why: err.message }, 'a stored session does not decrypt: fresh session')
      }
      return undefined
    }
  }
  sealed.set = async (id: string, record: SessionRecord): Promise<void> => { await store.set(id, sealRecord(id, record)) }
  if (typeof store.create === 'function') {
    sealed.create = async (id: string, record: SessionRecord): Promise<boolean> => await (store.create as NonNullable<SessionStore['create']>)(id, sealRecord(id, record))
  }
  sealed.patch = async (id: string, change: SessionPatch) => {
    // maxBytes measures plaintext: the plugin checks it (its patches are conditional, so it knows the merge)
    const set = sealData(id, change.set)
    const meta = change.meta === undefined ? undefined : sealMeta(id, change.meta)
    const next: SessionPatch = { ...change, set, meta }
    delete next.maxBytes
    // sealed again under the current key: what this session still holds under an older one, safe to
    // rewrite only when the patch is conditioned on the version those values were read at
    const old = stale.get(id)
    const reseal = old !== undefined && change.ifVersion === old.version
    if (reseal) {
      for (const key of Object.keys(old.data)) {
        if (!Object.hasOwn(change.set, key) && !change.unset.includes(key)) set[key] = ring.seal(old.data[key], dataAad(id, key))
      }
      const metaOld = Object.fromEntries(Object.entries(old.meta).filter(([field]) => change.meta === undefined || !Object.hasOwn(change.meta, field)))
      next.meta = { ...meta, ...sealMeta(id, metaOld) }
    }
    const result = await store.patch(id, next)
    if (reseal && (result === 'ok' || result === 'missing')) stale.delete(id)
    return result
  }
  return sealed as unknown as SessionStore
}

/**
 * A stored record with its data and personal meta opened (the CLI's inspect uses it too), and what of
 * it is not sealed under the current key; throws SealError when a value does not open.
 */
export function openRecord (ring: KeyRing, id: string, record: SessionRecord): { opened: SessionRecord, old: Stale | undefined } {
  const plain = dataObject()
  const staleData: Record<string, unknown> = {}
  const staleMeta: Stale['meta'] = {}
  let anyStale = false
  for (const key of Object.keys(record.data)) {
    const opened = ring.open(record.data[key], dataAad(id, key))
    plain[key] = opened.value
    if (opened.stale) {
      anyStale = true
      staleData[key] = opened.value
    }
  }
  const meta: SessionMeta = { ...record.meta }
  for (const field of SEALED_META) {
    if (meta[field] === undefined) continue
    const opened = ring.open(meta[field], metaAad(id, field))
    if (typeof opened.value !== 'string') throw new SealError(`a meta.${field} that is not a string`)
    meta[field] = opened.value
    if (opened.stale) {
      anyStale = true
      staleMeta[field] = opened.value
    }
  }
  return { opened: { ...record, data: plain, meta }, old: anyStale ? { version: record.version, data: staleData, meta: staleMeta } : undefined }
}
