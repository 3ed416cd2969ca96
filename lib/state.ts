// The per-request session state, its named transitions and the questions asked of it. Loading,
// persisting, request.session and its cookie view call a transition here to change the state; none of
// them assigns its fields (test/layout.test.ts keeps it so).
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { SessionAuth, SessionMeta, SessionRecord } from '../types/index.js'
import { generatedId, type CookieOverrides } from './cookie.js'
import { newId, newSecret } from './secrets.js'
import type { IdGenerator } from './options.js'
import { copyTree, sameTree } from '../stores/kit/json-tree.js'

const SILENT = { debug () {}, info () {}, warn () {}, error () {}, trace () {}, fatal () {}, child () { return SILENT }, level: 'silent', silent () {} } as unknown as FastifyBaseLogger
const NOTHING_STORED: Readonly<Record<string, unknown>> = Object.freeze({})
const NO_META: SessionMeta = Object.freeze({})

/** The shared empty key set every request starts with; the first key added gets the request a set of its own. */
class NoKeys extends Set<string> {
  override add (): this {
    throw new Error('fastify-zod-session: internal: the shared empty key set is read-only')
  }
}
const NO_KEYS: Set<string> = new NoKeys()

/** the JSON of a handed-out value that is not a plain tree (nested past 64 levels, or holding a class instance) */
class JsonText {
  constructor (readonly text: string) {}
}

/** What a handed-out value was: a deep copy of it (4× cheaper than its JSON), or its JSON. */
function snapshotOf (value: object): unknown {
  return copyTree(value) ?? new JsonText(JSON.stringify(value))
}

/** `value` is what `snapshot` recorded, as JSON would see it (a changed Date shows in its time) */
function unchangedSince (value: unknown, snapshot: unknown): boolean {
  return snapshot instanceof JsonText ? JSON.stringify(value) === snapshot.text : sameTree(value, snapshot)
}

/** the request's own set for `field`: most requests write nothing and allocate none */
function own (state: SessionState, field: 'changed' | 'unset' | 'validated'): Set<string> {
  const set = state[field]
  return set !== NO_KEYS ? set : (state[field] = new Set())
}

/** a key's pending update() functions and what the last one gave (to see a later in-place change) */
export interface Updates {
  fns: Array<(value: any) => unknown>
  result: unknown
}

export class SessionState {
  /** the lookup id; made lazily for new sessions */
  id!: string | null
  /** the secret this request's cookie carries, or the new one it will hand out */
  secret!: string | null
  /** a record for `id` is in the store (loaded, or saved by this request) */
  stored!: boolean
  /** the record this session was regenerated from: deleted once the response is below 500 */
  previousId!: string | null
  /** the auth as read (or as this request wrote it); null for a new session */
  auth!: SessionAuth | null
  /** the request's secret is a replaced one (in its grace window): it is given a current one */
  graceSecret!: boolean
  /** the request's secret may have been replaced meanwhile: it must not go out in a cookie */
  staleSecret!: boolean
  /** the version read or written; -1 when unknown (an unconditional patch was applied) */
  version!: number
  /** the data as the store held it when read or written; only its keys are used (what replacing the whole data must remove) */
  storedData!: Readonly<Record<string, unknown>>
  createdAt!: number
  expiresAt!: number | null
  meta!: SessionMeta
  data!: Record<string, unknown>
  changed!: Set<string>
  unset!: Set<string>
  /** changed keys whose value set() validated and nobody else references: persisting skips them */
  validated!: Set<string>
  /**
   * update(key, fn) of keys this request had not otherwise changed: the functions, in order, and a
   * snapshot of the value the last one gave (objects only). A save that meets another write applies
   * them again to the value stored then. null: none (most requests)
   */
  updaters!: Map<string, Updates> | null
  /** copies of the object values handed out by get() or data as they were, to detect nested mutation */
  snapshots!: Map<string, unknown> | null
  /** the whole data is replaced (clear(), regenerate, a migrated record): persisted whole, not as a patch */
  dataReplaced!: boolean
  /** regenerate() ran (a login): the save reports 'regenerated', not 'created' */
  regenerated!: boolean
  /** meta changed by refresh(): persist it even with no data change */
  metaChanged!: boolean
  touchDue!: boolean
  /** a Set-Cookie is owed: new session, new secret, refreshed expiry, or a re-signed cookie */
  sendCookie!: boolean
  /** this request deleted the session: clear its cookie (unless a new one is sent) */
  clearCookie!: boolean
  /** never saved: the store was unreachable on load, or the request is outside cookie.path */
  anonymous!: boolean
  /** a valid session cookie (ours or an importable @fastify/session one) came with the request: Vary: Cookie */
  cookieSeen!: boolean
  /** this response's cookie attributes set through session.cookie / session.options() */
  cookieOverrides!: CookieOverrides | null
  /** an @fastify/session cookie whose session was imported: cleared in the response */
  clearLegacy!: string | null
  log!: FastifyBaseLogger
  ip!: string
  userAgent!: string | undefined
  /** the app's idGenerator, or null for ours */
  idGenerator!: IdGenerator | null
  /** what idGenerator is called with (a bare object when fastify.decryptSession() was given one) */
  request!: FastifyRequest

  constructor (request: FastifyRequest, now: number, data: Record<string, unknown>, idGenerator: IdGenerator | null = null) {
    resetSession(this, now, data)
    this.changed = NO_KEYS
    this.unset = NO_KEYS
    this.validated = NO_KEYS
    this.clearCookie = false
    this.anonymous = false
    this.cookieSeen = false
    this.cookieOverrides = null
    this.clearLegacy = null
    // fastify.decryptSession() may be given a bare object standing for a request (a WebSocket upgrade)
    this.log = request.log ?? request.server?.log ?? SILENT
    this.ip = request.ip ?? ''
    this.userAgent = request.headers?.['user-agent']
    this.idGenerator = idGenerator
    this.request = request
  }
}

/**
 * Sets the fields of a new, empty, unsaved session (and leaves those of the request). One place, and
 * always the same order, so every state object has one shape.
 */
function resetSession (state: SessionState, now: number, data: Record<string, unknown>): void {
  state.id = null
  state.secret = null
  state.stored = false
  state.previousId = null
  state.auth = null
  state.graceSecret = false
  state.staleSecret = false
  state.version = 0
  state.storedData = NOTHING_STORED
  state.createdAt = now
  state.expiresAt = null
  state.meta = NO_META
  state.data = data
  state.updaters = null
  state.snapshots = null
  state.dataReplaced = false
  state.regenerated = false
  state.metaChanged = false
  state.touchDue = false
  state.sendCookie = false
}

export function freshState (request: FastifyRequest, now: number, data: Record<string, unknown>, idGenerator: IdGenerator | null = null): SessionState {
  return new SessionState(request, now, data, idGenerator)
}

/** A request outside cookie.path: its session is never saved and sends no cookie. */
export function outsidePath (state: SessionState): void {
  state.anonymous = true
}

export interface Adopted {
  id: string
  secret: string
  record: SessionRecord
  data: Record<string, unknown>
  /** the data was migrated on load: persist it whole */
  migrated: boolean
  graceSecret: boolean
  touchDue: boolean
}

/** The request's cookie opened a stored session. */
export function adopt (state: SessionState, loaded: Adopted): void {
  const { record } = loaded
  state.id = loaded.id
  state.secret = loaded.secret
  state.stored = true
  state.auth = record.auth
  state.graceSecret = loaded.graceSecret
  state.version = record.version
  state.storedData = record.data
  state.createdAt = record.createdAt
  state.expiresAt = record.expiresAt
  state.meta = record.meta
  state.data = loaded.data
  state.dataReplaced = loaded.migrated
  state.touchDue = loaded.touchDue
  state.sendCookie = false
}

/** A new, empty, unsaved session: after destroy(), or when the stored one vanished. */
export function startOver (state: SessionState, data: Record<string, unknown>, now = Date.now()): void {
  resetSession(state, now, data)
  state.changed.clear()
  state.unset.clear()
  state.validated.clear()
}

/**
 * regenerate(): a new id and secret and a new creation time; the stored record is deleted on send.
 * This is the authentication moment step-up freshness counts from.
 */
export function regenerated (state: SessionState, data: Record<string, unknown>, now = Date.now()): void {
  const previousId = state.stored ? state.id : state.previousId
  // made first: an idGenerator is called while request.session is still the session being replaced (as @fastify/session calls it)
  const id = nextId(state)
  const lifetime = keptLifetime(state, now)
  startOver(state, data, now)
  state.meta = { authenticatedAt: now, ...lifetime }
  state.previousId = previousId
  state.dataReplaced = true
  state.regenerated = true
  state.id = id
  state.secret = newSecret()
}

/**
 * A session's own lifetime (refresh(), cookie.maxAge, options({ maxAge })) outlives a regenerate(), as
 * @fastify/session's cookie options do: the idle timeout as it is, the absolute timeout re-based at the
 * new creation (for a session on the app's defaults that is the app's absoluteTimeout again).
 */
function keptLifetime (state: SessionState, now: number): SessionMeta {
  const kept: SessionMeta = {}
  const { idleTimeout, absoluteExpiresAt } = state.meta
  if (idleTimeout !== undefined) kept.idleTimeout = idleTimeout
  if (absoluteExpiresAt === null) kept.absoluteExpiresAt = null
  else if (absoluteExpiresAt !== undefined) kept.absoluteExpiresAt = now + (absoluteExpiresAt - state.createdAt)
  return kept
}

/** a new id: ours, or the app's idGenerator's (checked: FST_SESSION_INVALID_OPTIONS when unusable) */
function nextId (state: SessionState): string {
  return state.idGenerator === null ? newId() : generatedId(state.idGenerator(state.request))
}

/**
 * An @fastify/session session about to be created as ours under the id and secret derived from its
 * old id (lib/legacy.ts): the whole data is new, nothing of ours is replaced, and it is no login (no
 * authentication moment for step-up freshness).
 */
export function importing (state: SessionState, id: string, secret: string, data: Record<string, unknown>, now: number): void {
  startOver(state, data, now)
  state.id = id
  state.secret = secret
  state.dataReplaced = true
}

/** The store could not be reached while opening the session: an unsaved empty one serves the request (onStoreError 'anonymous'). */
export function servedAnonymous (state: SessionState, data: Record<string, unknown>, now = Date.now()): void {
  startOver(state, data, now)
  state.anonymous = true
}

/** The request's @fastify/session cookie is cleared by the response (imported, or dead). */
export function clearLegacyCookie (state: SessionState, name: string): void {
  state.clearLegacy = name
}

/** Ids are made lazily: a request that never saves never pays for one. */
export function ensureId (state: SessionState): string {
  if (state.id === null) {
    state.id = nextId(state)
    state.secret = newSecret()
  }
  return state.id
}

/** Something was changed that a save would persist (the caller ran detectNested first when it matters). */
export function hasWrites (state: SessionState): boolean {
  return state.changed.size > 0 || state.unset.size > 0 || state.dataReplaced || state.metaChanged
}

export function markChanged (state: SessionState, key: string): void {
  own(state, 'changed').add(key)
  state.unset.delete(key)
  state.validated.delete(key)
  state.updaters?.delete(key) // a value set over an update() is saved as set
  state.snapshots?.delete(key)
}

/**
 * Asked by update() before its function runs: can the save replay it on the value stored then? Not on
 * a key this request already set, unset or mutated (that value is no function of the stored one), unless
 * an earlier update() of the key is pending (its functions replay the whole chain).
 */
export function replayable (state: SessionState, key: string): boolean {
  if (state.updaters?.has(key) === true) return true
  const handedOut = state.snapshots?.get(key)
  return !state.changed.has(key) && !state.unset.has(key) && (handedOut === undefined || unchangedSince(state.data[key], handedOut))
}

/**
 * update(): `value` is `fn` applied to the value this request holds. When `replay` (replayable() said
 * so before fn ran), the save applies `fn`, after the key's earlier ones, to the value stored then if
 * another write came first; otherwise it is saved as a set. `fresh` as for markSet.
 */
export function markUpdated (state: SessionState, key: string, value: unknown, fn: (value: any) => unknown, fresh: boolean, replay: boolean): void {
  const earlier = state.updaters?.get(key)?.fns ?? []
  state.data[key] = value
  markChanged(state, key)
  if (fresh) own(state, 'validated').add(key)
  if (!replay) return
  state.updaters ??= new Map()
  state.updaters.set(key, { fns: [...earlier, fn], result: value !== null && typeof value === 'object' ? snapshotOf(value) : undefined })
}

/** whether the save must be conditional on the version read: an update() is pending */
export function hasUpdates (state: SessionState): boolean {
  return state.updaters !== null && state.updaters.size > 0
}

/**
 * set(): a value equal to the one stored is no change, so a request that re-sets what it read writes
 * nothing. `fresh`: the value was validated and only the session references it (validateKey).
 */
export function markSet (state: SessionState, key: string, value: unknown, fresh = false): void {
  const before = state.data[key]
  state.data[key] = value
  if (!state.stored || state.dataReplaced || state.changed.has(key) || !Object.hasOwn(state.storedData, key) || before === undefined) {
    markChanged(state, key)
    if (fresh) own(state, 'validated').add(key)
    return
  }
  const handedOut = state.snapshots?.get(key)
  if (handedOut === undefined && (value === null || typeof value !== 'object')) {
    if (!Object.is(before, value)) markChanged(state, key)
    return
  }
  // the value as stored: the snapshot taken when it was handed out (it may have been mutated since), or
  // itself (never handed out, so nobody else holds it)
  const stored = handedOut ?? before
  if (!unchangedSince(value, stored)) {
    markChanged(state, key)
    if (fresh) own(state, 'validated').add(key)
    return
  }
  // unchanged, but the caller holds the new object: a later mutation of it must still be seen
  state.snapshots ??= new Map()
  state.snapshots.set(key, stored)
}

/** `request.session.data.key = value` (the data proxy's assignment): no validation until the save. */
export function markAssigned (state: SessionState, key: string | symbol, value: unknown): void {
  (state.data as Record<string | symbol, unknown>)[key] = value
  if (typeof key === 'string') markChanged(state, key)
}

/**
 * The save's validation: `data` (the live state.data, which any proxy over it keeps showing, or a merge
 * the save made) takes the schema's parsed values in place.
 */
export function parsedInPlace (data: Record<string, unknown>, parsed: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(data)) if (!Object.hasOwn(parsed, k)) delete data[k]
  return Object.assign(data, parsed)
}

/** The save's validation of one changed key: its parsed value replaces it in `data` (the live state.data). */
export function parsedKey (data: Record<string, unknown>, key: string, value: unknown): void {
  data[key] = value
}

/** unset(): the key leaves the data, and the store's copy of it goes at save. */
export function markUnset (state: SessionState, key: string): void {
  delete state.data[key]
  state.changed.delete(key)
  state.validated.delete(key)
  state.updaters?.delete(key)
  state.snapshots?.delete(key)
  own(state, 'unset').add(key)
}

/** clear(): the whole data is replaced by the schema's defaults. */
export function markCleared (state: SessionState, data: Record<string, unknown>): void {
  state.data = data
  state.changed.clear()
  state.unset.clear()
  state.validated.clear()
  state.updaters = null
  state.snapshots = null
  state.dataReplaced = true
}

/** An object value handed out: remember its JSON to see nested mutations later. */
export function snapshot (state: SessionState, key: string, value: object): void {
  // a changed value is saved whole anyway; handed out, it may be changed into something invalid
  if (state.changed.has(key)) {
    state.validated.delete(key)
    return
  }
  state.snapshots ??= new Map()
  if (!state.snapshots.has(key)) state.snapshots.set(key, snapshotOf(value))
}

/**
 * Finds nested mutations of values handed out by get() or data, and of values update() gave: an updated
 * value changed in place since is saved as a set (the change cannot be replayed on the stored value).
 */
export function detectNested (state: SessionState): void {
  if (state.updaters !== null) {
    for (const [key, updates] of state.updaters) {
      if (updates.result !== undefined && !unchangedSince(state.data[key], updates.result)) state.updaters.delete(key)
    }
  }
  if (state.snapshots === null) return
  for (const [key, snapshot] of state.snapshots) {
    if (!state.changed.has(key) && !unchangedSince(state.data[key], snapshot)) own(state, 'changed').add(key)
  }
}

/**
 * The data was persisted: nothing is pending, and every object value that was handed out or written
 * is snapshotted again, so a nested mutation made after save() is still seen. `final` (onSend's
 * save): nothing can be saved after it, so there is nothing to watch.
 */
export function saved (state: SessionState, meta: SessionMeta, expiresAt: number | null, version: number, final = false): void {
  const handedOut = state.snapshots
  state.snapshots = null
  if (!final) {
    for (const key of state.changed) resnapshot(state, key)
    if (handedOut !== null) for (const key of handedOut.keys()) resnapshot(state, key)
    state.storedData = { ...state.data }
  }
  state.meta = meta
  state.expiresAt = expiresAt
  state.version = version
  state.stored = true
  state.dataReplaced = false
  state.metaChanged = false
  state.touchDue = false
  state.changed.clear()
  state.unset.clear()
  state.validated.clear()
  state.updaters = null
}

function resnapshot (state: SessionState, key: string): void {
  const value = state.data[key]
  if (value === null || typeof value !== 'object') return
  state.snapshots ??= new Map()
  state.snapshots.set(key, snapshotOf(value))
}

/** A session cookie (ours, or an importable @fastify/session one) came with the request: the response varies on Cookie. */
export function sawCookie (state: SessionState): void {
  state.cookieSeen = true
}

/** The cookie opened no usable session (unknown, expired, a wrong secret, refused data): empty data serves the request. */
export function openedNothing (state: SessionState, data: Record<string, unknown>): void {
  state.data = data
}

/** destroy(): a new, empty, unsaved session; the cookie is cleared only when this request removed a live session. */
export function destroyed (state: SessionState, data: Record<string, unknown>, removedLive: boolean): void {
  startOver(state, data)
  state.clearCookie = removedLive
}

/**
 * refresh(): the session's own lifetime (`meta`: idleTimeout, absoluteExpiresAt), persisted even with no
 * data change. `createdAt`: kept across a regenerate({ keep }) that refresh({ regenerate }) ran.
 */
export function ownLifetime (state: SessionState, meta: SessionMeta, createdAt?: number): void {
  if (createdAt !== undefined) state.createdAt = createdAt
  state.meta = meta
  state.metaChanged = true
}

/** reload() of a session never saved: it becomes empty, keeping the record a regenerate() is to delete. */
export function reloadedUnsaved (state: SessionState, data: Record<string, unknown>): void {
  const previousId = state.previousId
  startOver(state, data)
  state.previousId = previousId
}

/** reload(): the stored session again, unsaved changes dropped. */
export function reloaded (state: SessionState, record: SessionRecord, data: Record<string, unknown>, migrated: boolean): void {
  state.changed.clear()
  state.unset.clear()
  state.validated.clear()
  state.updaters = null
  state.snapshots = null
  adopt(state, { id: state.id as string, secret: state.secret as string, record, data, migrated, graceSecret: state.graceSecret, touchDue: state.touchDue })
}

/** The record a regenerate() replaced is being deleted: it is not deleted twice. */
export function previousDropped (state: SessionState): void {
  state.previousId = null
}

/** A new session was saved with `record`: its cookie is owed. */
export function created (state: SessionState, record: SessionRecord, final: boolean): void {
  state.auth = record.auth
  state.regenerated = false
  saved(state, record.meta, record.expiresAt, 0, final)
  state.sendCookie = true
  state.clearCookie = false
}

/** A patch of this request's changes was applied: `data` is what was written (validated, maybe merged). */
export function patched (state: SessionState, data: Record<string, unknown>, meta: SessionMeta, expiresAt: number | null, version: number, final: boolean): void {
  state.data = data
  saved(state, meta, expiresAt, version, final)
}

/** A conditional patch lost to another write: the store's data now is what a whole-data write must replace. */
export function storedMeanwhile (state: SessionState, storedData: Readonly<Record<string, unknown>>): void {
  state.storedData = storedData
}

/** touch(): the expiry was extended without a data write. */
export function touched (state: SessionState, expiresAt: number | null): void {
  state.expiresAt = expiresAt
  state.touchDue = false
}

/** The session's expiry was written (touch, refresh): the cookie's Max-Age follows it. */
export function expiryExtended (state: SessionState): void {
  state.sendCookie = true
}

/** The secret was rotated: the new one goes out in this response's cookie. */
export function rotated (state: SessionState, secret: string, auth: SessionAuth): void {
  state.secret = secret
  state.auth = auth
  state.graceSecret = false
  state.staleSecret = false
  state.sendCookie = true
}

/**
 * No new secret for this request (another request rotated first, the rotation failed, or the request's
 * grace secret was not replaced): its secret may be replaced already, so it never goes out in a cookie.
 */
export function lostRotation (state: SessionState): void {
  state.staleSecret = true
}

/** session.touch(): extend the expiry on this response even if touchAfter has not passed. */
export function touchRequested (state: SessionState): void {
  state.touchDue = state.stored
}

/** session.cookie.<attribute> = value (or session.options()): this response's Set-Cookie carries it. */
export function overrideCookie (state: SessionState, key: keyof CookieOverrides, value: unknown): void {
  state.cookieOverrides = { ...state.cookieOverrides, [key]: value }
  state.sendCookie = state.stored || state.sendCookie
}

/**
 * The Set-Cookie this response owes once persisted: the session's cookie (a new session, a new secret, an
 * extended expiry, a re-signed cookie, a changed attribute), its deletion (destroyed by this request),
 * or none. A secret that may have been replaced meanwhile never goes out; a failed response (5xx, which
 * saved nothing) owes only the deletion.
 */
export function cookieOwed (state: SessionState, failed: boolean): 'session' | 'clear' | null {
  if (!failed && state.sendCookie && !state.staleSecret && state.stored && state.id !== null && state.secret !== null) return 'session'
  return state.clearCookie ? 'clear' : null
}

/** The response depends on the request's cookie (`failed`: a 5xx, which sends no session cookie). */
export function variesOnCookie (state: SessionState, failed: boolean): boolean {
  return state.cookieSeen || state.clearCookie || (!failed && state.sendCookie)
}
