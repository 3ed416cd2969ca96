import type { SessionAuth, SessionMeta, SessionPatch, SessionRecord, SessionStore } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import type { StoredReader } from './stored.js'
import { errorCodes } from './errors.js'
import { invalidData, validateData, validateKey, validatesPerKey, type SessionSchema } from './schema.js'
import { expiryAt } from './expiry.js'
import { OwnerLimit } from './owner-limit.js'
import { hashSecret, initialAuth, newSecret, rotatedAuth, rotationDue } from './secrets.js'
import { oversize } from '../stores/kit/record.js'
import { callStore, createIfAbsent } from './store-call.js'
import { lateAnswer } from './store-timeout.js'
import {
  created, detectNested, ensureId, expiryExtended, hasUpdates, hasWrites, lostRotation, parsedInPlace, parsedKey, patched, previousDropped, rotated, startOver,
  storedMeanwhile, touched, type SessionState
} from './state.js'

/** conditional writes retried after a concurrent write changed the version */
const MAX_ATTEMPTS = 25
/**
 * how long after its write a patch may still land (unlessWrittenAfter = the write's time + this, or
 * storeTimeout when shorter). A patch that fails sooner reports its failure only then, so any write made
 * after the failure is later than the fence, whatever timed out (storeTimeout, or the driver's own
 * command timeout, which the README sets to 1 s).
 */
const FENCE_MS = 1000

type Data = Record<string, unknown>

/**
 * Decides and does the least store work that persists a session: nothing, touch, patch, rotate or
 * set. A session's record never moves; writes never create a record they did not load (a session
 * destroyed meanwhile stays destroyed), and a secret goes out in a cookie only when it is current.
 */
export class SessionWriter {
  readonly #opts: ResolvedOptions
  readonly #store: SessionStore
  readonly #schema: SessionSchema
  readonly #stored: StoredReader
  readonly #emptyData: () => Data
  readonly #perKey: boolean
  readonly #ownerLimit: OwnerLimit | null

  constructor (opts: ResolvedOptions, stored: StoredReader, emptyData: () => Data) {
    this.#opts = opts
    this.#store = opts.store
    this.#schema = opts.schema
    this.#stored = stored
    this.#emptyData = emptyData
    this.#perKey = validatesPerKey(opts.schema)
    this.#ownerLimit = opts.maxSessionsPerOwner === null ? null : new OwnerLimit(opts.store, opts.maxSessionsPerOwner, opts.events)
  }

  /**
   * The store work this session needs, or undefined when it needs none (most read-only requests).
   * `final`: onSend's save, after which nothing is saved again.
   */
  persist (state: SessionState, now = Date.now(), final = false): Promise<unknown> | undefined {
    if (state.anonymous) return undefined
    detectNested(state)
    const writes = hasWrites(state)
    if (!state.stored) {
      // regenerate() replaces the data, so a regenerated session always counts as written
      if (!writes && !this.#opts.saveUninitialized) return undefined
      return this.#create(state, now, final)
    }
    const rotate = this.#rotationDue(state, now)
    if (!writes && !state.touchDue && !rotate && !state.graceSecret) return undefined
    return this.#update(state, writes, rotate, now, final)
  }

  #rotationDue (state: SessionState, now: number): boolean {
    if (this.#opts.rotationInterval === null || state.auth === null) return false
    return state.graceSecret || rotationDue(state.auth, now)
  }

  /**
   * The legacy import's save (lib/legacy.ts): the session as #create saves it, but written only when no
   * live record has its (derived) id. False when another request created it first: nothing was written
   * and the state is unchanged. The importer reports the import.
   */
  async createImported (state: SessionState, now: number): Promise<boolean> {
    return await this.#create(state, now, false, true)
  }

  async #create (state: SessionState, now: number, final: boolean, ifAbsent = false): Promise<boolean> {
    const data = this.#validated(state, state.data)
    const limit = this.#opts.maxDataBytes
    if (limit !== null) {
      const bytes = oversize(data, limit)
      if (bytes !== undefined) throw new errorCodes.FST_SESSION_TOO_LARGE(limit, `${bytes} bytes`)
    }
    const id = ensureId(state)
    const secret = state.secret as string
    const owner = this.#opts.owner?.(data) ?? undefined
    const limited = this.#ownerLimit !== null && typeof owner === 'string'
    if (limited) await this.#ownerLimit!.before(owner, state)
    // createdAtHr: sessions saved in the same millisecond still have an order (the owner limit's)
    const meta: SessionMeta = { ...state.meta, ip: state.ip, userAgent: state.userAgent, lastAccessAt: now, lastAccessIp: state.ip, createdAtHr: performance.timeOrigin + performance.now() }
    if (owner !== undefined && owner !== null) meta.owner = owner
    if (meta.absoluteExpiresAt === undefined && this.#opts.absoluteTimeout !== null) meta.absoluteExpiresAt = state.createdAt + this.#opts.absoluteTimeout
    const rotateAt = this.#opts.rotationInterval === null ? undefined : now + this.#opts.rotationInterval
    const record: SessionRecord = { data, createdAt: state.createdAt, expiresAt: expiryAt(this.#opts, meta, now), version: 0, auth: initialAuth(secret, rotateAt), meta }
    const previous = state.previousId
    // an app's idGenerator may repeat an id: a new session must never overwrite another one (its own
    // pre-regenerate record, under the same id, is replaced as a regenerate replaces it)
    const generated = this.#opts.idGenerator !== null && previous !== id
    if (ifAbsent || generated) {
      if (!await callStore('save the session', () => createIfAbsent(this.#store, id, record))) {
        if (ifAbsent) return false
        throw new errorCodes.FST_SESSION_INVALID_OPTIONS('idGenerator', 'returned the id of another live session: nothing was saved (ids must be unique)')
      }
    } else {
      try {
        await callStore('save the session', () => this.#store.set(id, record))
      } catch (err) {
        this.#undoLateCreate(err, id, state)
        throw err
      }
    }
    if (limited) await this.#ownerLimit!.after(owner, id, state)
    if (previous !== null) {
      previousDropped(state)
      if (previous !== id) await callStore('delete the pre-regenerate session', () => this.#store.destroy(previous))
    }
    if (state.regenerated) this.#opts.events.emitFor('regenerated', state, { id, owner: meta.owner, previousId: previous ?? undefined })
    else if (!ifAbsent) this.#opts.events.emitFor('created', state, { id, owner: meta.owner })
    created(state, record, final)
    return true
  }

  async #update (state: SessionState, writes: boolean, rotate: boolean, now: number, final: boolean): Promise<void> {
    const id = state.id as string
    const extend = state.touchDue || state.metaChanged
    const expiresAt = extend ? expiryAt(this.#opts, state.meta, now) : undefined
    // a login that sets the owner on a stored session (no regenerate()) is counted like one that does
    const newOwner = writes && this.#ownerLimit !== null ? this.#opts.owner?.(state.data) ?? undefined : undefined
    const limited = typeof newOwner === 'string' && newOwner !== state.meta.owner
    if (limited) await this.#ownerLimit!.before(newOwner, state)
    // values sealed under an older key are sealed again at the session's next write or touch
    const reseal = this.#opts.resealDue?.(id, state.version) === true
    const found = writes || reseal
      ? await this.#patch(state, expiresAt, now, final, reseal)
      : !state.touchDue || await callStore('touch the session', () => this.#store.touch(id, expiresAt as number | null))
    if (found && limited) await this.#ownerLimit!.after(newOwner, id, state)
    if (!found) {
      // destroyed, revoked or regenerated by another request meanwhile: never bring it back, and
      // never clear the cookie (the browser may hold a newer one by now)
      state.log.debug({ session: id }, 'session vanished before it was saved: not recreated')
      startOver(state, this.#emptyData(), now)
      return
    }
    if (!writes && state.touchDue) touched(state, expiresAt as number | null)
    if (extend) expiryExtended(state)
    if (rotate) await this.#rotate(state, now)
    else if (state.graceSecret) lostRotation(state)
  }

  /**
   * The patch of this request's changes; false when the record is gone. Per-key patches merge in the
   * store, which also enforces maxDataBytes on the merged data, so concurrent writes of different keys
   * all land without a retry; only object-level refinements need the whole merged data here, so only
   * they condition on the version. Every patch is fenced in time: it applies only if the record was
   * not written after its fence (unlessWrittenAfter, on the record's meta.lastAccessAt), and its failure
   * is reported no sooner than the fence, so a patch that fails (its request gets a 503) and lands later,
   * after a newer write of the session, writes nothing instead of putting older values over newer ones.
   */
  async #patch (state: SessionState, expiresAt: number | null | undefined, now: number, final: boolean, reseal = false): Promise<boolean> {
    const id = state.id as string
    // an update() is applied to the value as stored: conditional, so another write first means a retry;
    // so is a reseal (values under an older key, sealed again as they are at the version read), per attempt
    const conditional = !this.#perKey || hasUpdates(state)
    const ring = this.#opts.encryption
    const maxBytes = this.#opts.maxDataBytes ?? undefined
    const timeout = Math.min(FENCE_MS, this.#opts.storeTimeout ?? FENCE_MS)
    let data = this.#validated(state, state.data)
    let version = state.version
    let fence = now + timeout
    for (let attempt = 1; ; attempt++) {
      const meta = this.#metaDelta(state, data, now)
      const delta = this.#dataDelta(state, data)
      // a literal, then fields in a fixed order: a spread copy gets a new hidden class whose added
      // fields each cost a transition (7 µs of a memory write)
      const change: SessionPatch = { set: delta.set, unset: delta.unset, meta }
      if (expiresAt !== undefined) change.expiresAt = expiresAt
      if (conditional || (attempt === 1 ? reseal : this.#opts.resealDue?.(id, version) === true)) change.ifVersion = version
      change.unlessWrittenAfter = fence
      if (maxBytes !== undefined) change.maxBytes = ring === null ? maxBytes : this.#sealedLimit(state, change, maxBytes)
      const result = await fenced(fence, callStore('save the session', () => this.#store.patch(id, change)))
      if (result === 'missing') return false
      // encrypted, a sealed limit is refused also when another write grew the session meanwhile: re-read, measure the plaintext again
      if (result === 'too-large' && ring === null) throw new errorCodes.FST_SESSION_TOO_LARGE(maxBytes as number, 'once merged into the stored session')
      if (result === 'ok') {
        patched(state, data, { ...state.meta, ...meta }, expiresAt === undefined ? state.expiresAt : expiresAt, change.ifVersion !== undefined ? version + 1 : -1, final)
        return true
      }
      if (attempt >= MAX_ATTEMPTS) throw new errorCodes.FST_SESSION_CONFLICT(attempt)
      // another request wrote meanwhile: put this request's changes on top of what is stored now
      const stored = this.#stored.read(await callStore('reload the session', () => this.#store.get(id)), state.log, id)
      if (stored === undefined) return false
      data = this.#validated(state, this.#merge(state, stored.data.value), true)
      storedMeanwhile(state, stored.record.data)
      version = stored.record.version
      // this answer came in time, so a later write it met was made by a server whose clock is ahead:
      // the retry is fenced from that write on (a write made after it still stops a late retry)
      const written = stored.record.meta.lastAccessAt
      if (typeof written === 'number' && written > fence) fence = written
      await new Promise(resolve => setTimeout(resolve, Math.random() * Math.min(64, 2 ** attempt)))
    }
  }

  /**
   * maxDataBytes for an encrypted store, which measures only sealed values: the plaintext the patch leaves
   * (on the data as read) is checked here, and the store gets the sealed size of that data plus the
   * plaintext headroom left. Another write between the read and the patch that adds data adds at least as
   * many sealed bytes as plaintext ones, so the store refuses it before the plaintext could pass the limit
   * (the writer then reads again and measures afresh).
   */
  #sealedLimit (state: SessionState, change: SessionPatch, maxBytes: number): number {
    const { plain, sealed } = (this.#opts.encryption as NonNullable<ResolvedOptions['encryption']>).sealedSize(afterPatch(state.storedData, change))
    if (plain > maxBytes) throw new errorCodes.FST_SESSION_TOO_LARGE(maxBytes, `${plain} bytes once merged into the stored session`)
    return sealed + (maxBytes - plain)
  }

  /**
   * this request's changes on top of `stored` (the whole data when it replaced it): a key set is its
   * value, a key updated is its update functions applied to the value stored now
   */
  #merge (state: SessionState, stored: Data): Data {
    if (state.dataReplaced) return state.data
    const merged = stored
    for (const key of state.changed) {
      const updates = state.updaters?.get(key)
      if (updates !== undefined) merged[key] = updates.fns.reduce((value, fn) => fn(value), merged[key])
      else if (Object.hasOwn(state.data, key)) merged[key] = state.data[key]
    }
    for (const key of state.unset) delete merged[key]
    return merged
  }

  #dataDelta (state: SessionState, data: Data): { set: Data, unset: string[] } {
    const set: Data = {}
    const unset: string[] = [...state.unset]
    const keys = state.dataReplaced ? Object.keys(data) : [...state.changed]
    for (const key of keys) {
      if (Object.hasOwn(data, key) && data[key] !== undefined) set[key] = data[key]
      else unset.push(key)
    }
    if (state.dataReplaced) for (const key of Object.keys(state.storedData)) if (!Object.hasOwn(data, key)) unset.push(key)
    return { set, unset }
  }

  /** only the meta that changed: fewer fields to write (a Redis patch writes 1 meta field, not ~8) */
  #metaDelta (state: SessionState, data: Data, now: number): Partial<SessionMeta> {
    const owner = this.#opts.owner?.(data) ?? undefined
    const delta: Partial<SessionMeta> = state.metaChanged ? { ...state.meta, lastAccessAt: now } : { lastAccessAt: now }
    if (state.ip !== state.meta.lastAccessIp) delta.lastAccessIp = state.ip
    if (owner !== state.meta.owner) delta.owner = owner ?? undefined
    return delta
  }

  /**
   * A new secret, conditioned on the auth this request read. Due: every current secret is replaced
   * and works for rotationGrace more. A replaced secret (its client missed the rotation response):
   * a new current secret is added beside the others. The loser of a race writes nothing and, its
   * secret being possibly replaced, sends no cookie.
   */
  async #rotate (state: SessionState, now: number): Promise<void> {
    const read = state.auth as SessionAuth
    const secret = newSecret()
    const fresh = hashSecret(secret)
    const auth = rotatedAuth(read, fresh, now, this.#opts.rotationGrace, this.#opts.rotationInterval as number)
    const id = state.id as string
    let done: boolean
    try {
      done = await callStore('rotate the session secret', () => this.#store.rotate(id, read.current[0], auth))
    } catch (err) {
      // like a lost race: the request's work is saved and its secret stays usable, so the request answers
      // as usual, keeping the secret (no cookie). A rotation that lands after its deadline is rolled back
      // (conditioned on its own secret, which nobody received): the client's secret stays current.
      state.log.warn({ err, session: id }, 'session secret rotation failed: the current secret is kept')
      lateAnswer(err)?.then(async landed => {
        if (landed === true && await this.#store.rotate(id, fresh, read)) state.log.warn({ session: id }, 'a session secret rotation that answered late was rolled back')
      }).catch((undoErr: unknown) => { state.log.warn({ err: undoErr, session: id }, 'could not roll back a session secret rotation that answered late: the client\'s secret lasts rotationGrace unless it returns') })
      done = false
    }
    if (done) {
      rotated(state, secret, auth)
      this.#opts.events.emitFor('rotated', state, { id, owner: state.meta.owner })
    } else {
      lostRotation(state)
    }
  }

  /**
   * A new session's save that answered after storeTimeout: the request answered 503 and sent no cookie,
   * so no client can ever hold this id. When the save lands anyway, it is destroyed, which also takes it
   * out of the owner index: it is never listed, nor counted against maxSessionsPerOwner.
   */
  #undoLateCreate (err: unknown, id: string, state: SessionState): void {
    lateAnswer(err)?.then(async () => {
      await this.#store.destroy(id)
      state.log.warn({ session: id }, 'a session save that answered after storeTimeout was undone')
    }).catch((undoErr: unknown) => { state.log.warn({ err: undoErr, session: id }, 'could not undo a session save that answered after storeTimeout: it lives until it expires') })
  }

  /**
   * The data to persist, validated. Data a request starts from is always valid (parsed when loaded,
   * or the schema's empty data), so for an object schema with no object-level checks only the changed
   * keys are validated again; any other schema, or merged data, parses whole.
   */
  #validated (state: SessionState, data: Data, whole = false): Data {
    let result: Data = data
    if (this.#perKey && !whole && !state.dataReplaced) {
      for (const key of state.changed) {
        if (!Object.hasOwn(data, key) || state.validated.has(key)) continue
        const checked = validateKey(this.#schema, data, key, data[key])
        if (!checked.ok) throw invalidData(checked)
        parsedKey(data, key, checked.value)
      }
    } else {
      const checked = validateData(this.#schema, data)
      if (!checked.ok) throw invalidData(checked)
      result = checked.value
    }
    return result === data ? data : parsedInPlace(data, result)
  }
}

/** the data as read with `change` applied: what the store holds after the patch when no other write came between */
function afterPatch (stored: Readonly<Data>, change: SessionPatch): Data {
  const after: Data = Object.assign(Object.create(null) as Data, stored)
  for (const key of change.unset) delete after[key]
  for (const key of Object.keys(change.set)) {
    if (change.set[key] === undefined) delete after[key]
    else after[key] = change.set[key]
  }
  return after
}

/**
 * The patch's answer; a failure only once the fence has passed: the patch may still land until then,
 * and a write made after the client heard of the failure must be later than the fence to stop it.
 */
async function fenced<T> (fence: number, call: Promise<T>): Promise<T> {
  try {
    return await call
  } catch (err) {
    const wait = fence + 1 - Date.now()
    if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
    throw err
  }
}
