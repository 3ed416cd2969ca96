// The store as requests see it with encryption at rest: every data value and the recorded IPs and
// User-Agent go in sealed (lib/key-ring.ts) and come out opened. Per key, so per-key patches still merge
// in the store. fastify.sessionStore stays the store itself: what it hands out is ciphertext.
import type { FastifyBaseLogger } from 'fastify'
import type { SessionMeta, SessionPatch, SessionRecord, SessionStore } from '../types/index.js'
import { CheckedRecord, dataObject, usableRecord } from '../stores/kit/record.js'
import { SealError, type KeyRing } from './key-ring.js'

/** the meta fields that are personal data; owner stays readable: the store indexes it */
const SEALED_META = ['ip', 'userAgent', 'lastAccessIp'] as const
const PASSED = ['rotate', 'touch', 'prune', 'watchExpired', 'stats', 'listByOwner', 'destroyByOwner', 'ready', 'close'] as const
/** sessions remembered as read under an older key (or unencrypted), awaiting their next write: an id and a number each */
const MAX_STALE = 100_000
const MAX_WARNED = 10_000

const dataAad = (id: string, key: string): string => `${id}\nd\n${key}`
const metaAad = (id: string, field: string): string => `${id}\nm\n${field}`

export interface Sealed {
  /** the store as requests see it: values sealed going in, opened coming out */
  store: SessionStore
  /**
   * whether the session `id`, read at `version`, holds values sealed under an older key (or not at all):
   * its next patch must be conditioned on that version, and then seals them again under the first key
   */
  resealDue: (id: string, version: number) => boolean
}

export function sealedStore (store: SessionStore, ring: KeyRing, log: FastifyBaseLogger): Sealed {
  /** sessions read with stale values: the version they were read at (no values: they are read again when sealed again) */
  const stale = new Map<string, number>()
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
  const sealData = (id: string, values: Record<string, unknown>): Record<string, unknown> => {
    const out = dataObject()
    for (const key of Object.keys(values)) out[key] = values[key] === undefined ? undefined : ring.seal(values[key], dataAad(id, key))
    return out
  }
  const sealRecord = (id: string, record: SessionRecord): SessionRecord =>
    ({ ...record, data: sealData(id, record.data), meta: sealMeta(id, record.meta) as SessionMeta })
  const remember = (id: string, version: number | undefined): void => {
    if (version === undefined) {
      if (stale.size > 0) stale.delete(id)
      return
    }
    if (stale.size >= MAX_STALE && !stale.has(id)) stale.delete(stale.keys().next().value as string)
    stale.set(id, version)
  }

  const warn = (id: string, why: string, outcome = 'read as absent'): void => {
    if (warned.has(id)) return
    if (warned.size >= MAX_WARNED) warned.clear()
    warned.add(id)
    log.warn({ session: id, why }, `a stored session does not decrypt: ${outcome}`)
  }

  sealed.get = async (id: string): Promise<SessionRecord | undefined> => {
    const answer = await store.get(id)
    // checked before it is opened; what is opened comes back checked (the loader does not copy it again,
    // which would open the IPs and User-Agent it does not read)
    const record = usableRecord(answer)
    if (record === null) return answer // malformed: the loader reports it, as without encryption
    if (record === undefined) return undefined
    try {
      const { opened, staleValues } = openRecord(ring, id, record, why => { warn(id, why) })
      remember(id, staleValues ? record.version : undefined)
      return opened
    } catch (err) {
      // a value that does not open, or a record malformed around it: corrupt, as the loader treats one
      warn(id, err instanceof SealError ? err.message : `a malformed record (${String(err)})`, 'fresh session')
      return undefined
    }
  }
  sealed.set = async (id: string, record: SessionRecord): Promise<void> => {
    remember(id, undefined)
    await store.set(id, sealRecord(id, record))
  }
  if (typeof store.create === 'function') {
    const create = store.create.bind(store)
    sealed.create = async (id: string, record: SessionRecord): Promise<boolean> => {
      remember(id, undefined)
      return await create(id, sealRecord(id, record))
    }
  }
  sealed.destroy = async (id: string): Promise<boolean> => {
    remember(id, undefined)
    return await store.destroy(id)
  }
  sealed.patch = async (id: string, change: SessionPatch) => {
    const set = sealData(id, change.set)
    // maxBytes comes measured in sealed bytes (the writer translates maxDataBytes: KeyRing.sealedSize)
    const next: SessionPatch = { ...change, set, meta: change.meta === undefined ? undefined : sealMeta(id, change.meta) }
    const reseal = change.ifVersion !== undefined && stale.get(id) === change.ifVersion
    if (reseal) await resealInto(next, id, change)
    const result = await store.patch(id, next)
    if (reseal && (result === 'ok' || result === 'missing')) remember(id, undefined)
    return result
  }

  /**
   * Adds to a patch conditioned on the version the stale values were read at every value of the record
   * still sealed under an older key, sealed under the first one: read again (the values as stored, not
   * a request's copies), and only when the record is still at that version (else the patch conflicts).
   */
  const resealInto = async (next: SessionPatch, id: string, change: SessionPatch): Promise<void> => {
    const record = await store.get(id)
    if (record === undefined || record.version !== change.ifVersion) return
    try {
      const { opened, staleValues } = openRecord(ring, id, record)
      if (!staleValues) return
      for (const key of Object.keys(opened.data)) {
        if (!Object.hasOwn(change.set, key) && !change.unset.includes(key)) next.set[key] = ring.seal(opened.data[key], dataAad(id, key))
      }
      const meta: Partial<SessionMeta> = { ...next.meta }
      for (const field of SEALED_META) {
        const value = opened.meta[field]
        if (value !== undefined && (change.meta === undefined || !Object.hasOwn(change.meta, field))) meta[field] = ring.seal(value, metaAad(id, field))
      }
      next.meta = meta
    } catch {
      // it no longer opens: the patch goes on as it is, and the next read treats the record as corrupt
    }
  }

  return { store: sealed as unknown as SessionStore, resealDue: (id, version) => stale.size > 0 && stale.get(id) === version }
}

/**
 * A stored record with its data and personal meta opened (the CLI's inspect uses it too), and whether
 * any of it is not sealed under the first key; throws (SealError) when a value does not open. With
 * `lazyMeta` (a request's read), the IPs and User-Agent are opened when first read (most requests never
 * read them): one that does not open then reads as absent, and `lazyMeta` hears why.
 */
export function openRecord (ring: KeyRing, id: string, record: SessionRecord, lazyMeta?: (why: string) => void): { opened: SessionRecord, staleValues: boolean } {
  const plain = dataObject()
  let staleValues = false
  for (const key of Object.keys(record.data)) {
    const opened = ring.open(record.data[key], dataAad(id, key))
    plain[key] = opened.value
    staleValues ||= opened.stale
  }
  const meta: SessionMeta = { ...record.meta }
  for (const field of SEALED_META) {
    const stored = meta[field]
    if (stored === undefined) continue
    const open = (): string => {
      const opened = ring.open(stored, metaAad(id, field))
      if (typeof opened.value !== 'string') throw new SealError(`a meta.${field} that is not a string`)
      return opened.value
    }
    if (lazyMeta === undefined) {
      meta[field] = open()
      staleValues ||= !ring.current(stored)
      continue
    }
    staleValues ||= !ring.current(stored)
    const settle = (value: string | undefined): void => { Object.defineProperty(meta, field, { value, writable: true, enumerable: true, configurable: true }) }
    Object.defineProperty(meta, field, {
      enumerable: true,
      configurable: true,
      get () {
        let value: string | undefined
        try {
          value = open()
        } catch (err) {
          lazyMeta(err instanceof Error ? err.message : String(err))
        }
        settle(value)
        return value
      },
      set: settle
    })
  }
  return { opened: new CheckedRecord(plain, record.createdAt, record.expiresAt, record.version, record.auth, meta), staleValues }
}
