import type { z } from 'zod'
import type { FastifyRequest } from 'fastify'

/**
 * What a store keeps for one session (store contract v2). A session's record never moves: rotation
 * replaces secret hashes inside it, and the data stays where it is.
 */
export interface SessionRecord {
  /**
   * The session data; JSON-safe apart from Dates, which every store round-trips. The plugin hands a store
   * only what every store carries (no NUL or lone surrogate in a string or key, at most 64 levels deep, no
   * `__proto__` key, top-level keys non-empty without '.' or a leading '$'); a store keeps all of that as it is.
   */
  data: Record<string, unknown>
  /** ms since epoch */
  createdAt: number
  /** ms since epoch; the store's TTL; null = never expires */
  expiresAt: number | null
  /** the data's revision: 0 when created, +1 for every applied patch */
  version: number
  /** hashes of the secrets that open the session; never a usable secret */
  auth: SessionAuth
  meta: SessionMeta
}

/** The secrets of one session, as SHA-256 hashes (base64url): a store dump holds no usable cookie. */
export interface SessionAuth {
  /**
   * hashes of the current secrets, newest first. Every change of auth puts a fresh hash at [0], so
   * `current[0]` identifies the auth's revision: rotate() is conditioned on it.
   */
  current: string[]
  /** hashes of recently replaced secrets, each with the ms (since epoch) until which it still works */
  replaced: Array<[hash: string, until: number]>
  /** ms since epoch when the secret is next due for rotation; absent = never */
  rotateAt?: number
}

export interface SessionMeta {
  /** IP address the session was created from */
  ip?: string
  userAgent?: string
  /** ms since epoch of the last request that wrote the session */
  lastAccessAt?: number
  lastAccessIp?: string
  owner?: string
  /** ms since epoch; null = this session has no absolute deadline (refresh({ absoluteTimeout: null })) */
  absoluteExpiresAt?: number | null
  /** per-session idle timeout in ms, set by refresh() */
  idleTimeout?: number | null
  /** ms since epoch of the last regenerate() (the login moment): what step-up freshness checks */
  authenticatedAt?: number
  /**
   * when this record was created, in ms since epoch with a microsecond fraction (the monotonic clock):
   * orders sessions created in the same millisecond (maxSessionsPerOwner keeps the earlier one)
   */
  createdAtHr?: number
}

/** A per-key change of one record. */
export interface SessionPatch {
  /** top-level data keys to write (a value of undefined removes the key) */
  set: Record<string, unknown>
  /** top-level data keys to remove */
  unset: string[]
  /** the new expiry; absent = leave the expiry as it is */
  expiresAt?: number | null
  /** meta fields to merge (a value of undefined removes the field) */
  meta?: Partial<SessionMeta>
  /** apply only when the record's version is this one (else 'conflict', nothing written) */
  ifVersion?: number
  /**
   * apply only when the record's `meta.lastAccessAt` (the time the last write of it was made, on the
   * writing server's clock) is at most this (else 'conflict', nothing written); a record without one
   * passes. The plugin sends the time of this write plus storeTimeout: a patch that lands after its
   * request answered 503 and after a newer write of the session was made writes nothing, so it never
   * puts older values over newer ones, while concurrent writes of different keys all land.
   */
  unlessWrittenAfter?: number
  /**
   * apply only when the merged data measures at most this many bytes (else 'too-large', nothing
   * written). The measure: the sum, over top-level keys, of the UTF-8 bytes of the key and of its
   * value serialized as JSON with Dates as {"$date": ISO} (what every store keeps).
   */
  maxBytes?: number
}

/** What patch() did: applied, found no live record, or found the record at another version. */
export type PatchResult = 'ok' | 'missing' | 'conflict' | 'too-large'

/** A session the store removed because its deadline passed; `owner` where the store still knew it */
export interface ExpiredSession {
  id: string
  owner?: string
}

export interface PruneOptions {
  /** called as the prune goes: `done` of `total` sessions examined (the CLI draws a progress bar) */
  onProgress?: (done: number, total: number) => void
  /**
   * called (once or in batches) with the expired sessions this prune removed, each exactly once: a
   * session another prune or a request removed first is not reported here
   */
  onExpired?: (sessions: ExpiredSession[]) => void
}

/** A running watch for sessions the backend expires by itself (SessionStore.watchExpired) */
export interface ExpiryWatch {
  /** why no events may come (for example Redis's `notify-keyspace-events` lacks `Ex`); logged as a warning */
  notice?: string
  stop (): Promise<void>
}

export interface SessionStats {
  sessions: number
  /** live sessions per owner; absent when the store cannot tell */
  owners?: Record<string, number>
}

/**
 * Store contract v2. `id` is the session's lookup id (random, 128 bits, not a credential: the
 * secret is checked against `auth` by the plugin). Every method is atomic for ONE id in its backend,
 * and every rule below is checked by the conformance suite (`fastify-zod-session/testing`).
 *
 * Expired means `expiresAt !== null && expiresAt <= Date.now()`; an expired record behaves exactly
 * like a missing one in every method (a store may delete it lazily or let its backend's TTL do it).
 * Records handed in and out are copies: changing one never changes what is stored.
 */
export interface SessionStore {
  /**
   * Capability: true when every method does all its work in this process, synchronously, before its
   * promise is returned: it waits on no I/O, timer, lock or other process, so a call cannot hang
   * (MemoryStore). The plugin then does not bound the store's calls with `storeTimeout` (the wrapper's
   * extra promise per call would be a measurable part of such a store's cost, and there is nothing to
   * time out). Leave it unset (or false) for a store that waits on anything, and set it false in a
   * subclass of such a store that adds waiting: its calls are then bounded by `storeTimeout`.
   */
  readonly synchronous?: boolean
  /** The live record, or undefined when missing or expired. */
  get (id: string): Promise<SessionRecord | undefined>
  /** Writes the whole record (upsert): creation, and operators' tools. The owner index follows it. */
  set (id: string, record: SessionRecord): Promise<void>
  /**
   * Writes the record only when no live record has this id (an expired one counts as absent and is
   * replaced), atomically: of concurrent creates of one id exactly one answers true, and a live record
   * is never changed. The owner index follows it as it follows set(). Optional: the `legacy` import
   * needs it to make exactly one session per @fastify/session session under parallel requests.
   */
  create? (id: string, record: SessionRecord): Promise<boolean>
  /**
   * Merges `change` into a live record and adds 1 to its version, atomically: two patches of
   * different keys both survive. 'missing' when there is no live record (nothing is created);
   * 'conflict' when `ifVersion` is given and differs from the record's version (or the record was
   * written after `unlessWrittenAfter`), 'too-large' when the
   * merged data would measure more than `maxBytes` (nothing is written in either case). Both checks
   * are part of the same atomic step, so concurrent patches can never together exceed `maxBytes`.
   */
  patch (id: string, change: SessionPatch): Promise<PatchResult>
  /**
   * Replaces `auth` only when the live record's `auth.current[0]` is `from`: true when it did.
   * The loser of two concurrent rotations gets false and writes nothing. Data, version, expiry untouched.
   */
  rotate (id: string, from: string, auth: SessionAuth): Promise<boolean>
  /** Sets the expiry of a live record (null = never): true when it did; a missing one stays missing. */
  touch (id: string, expiresAt: number | null): Promise<boolean>
  /** Deletes the record; true when a live one was there. Idempotent. */
  destroy (id: string): Promise<boolean>
  /** removes expired sessions, returns how many; for stores without native expiry */
  prune? (options?: PruneOptions): Promise<number>
  /**
   * For backends that expire records by themselves (Redis): calls `listener` with the sessions the
   * backend expired from now on, at most once each, until stopped. The plugin uses it for `expired`
   * events when something listens.
   */
  watchExpired? (listener: (sessions: ExpiredSession[]) => void): Promise<ExpiryWatch>
  /** counts live sessions, and per owner where the store can; for operators */
  stats? (): Promise<SessionStats>
  /** ids of the live sessions whose `meta.owner` is `owner` */
  listByOwner? (owner: string): Promise<string[]>
  /** destroys every live session of `owner` except the id `except`; returns how many */
  destroyByOwner? (owner: string, except?: string): Promise<number>
  /** opens or creates what the store needs; the plugin awaits it, so a bad store fails app.ready() */
  ready? (): Promise<void>
  /** releases what the store opened itself; never a client it was given */
  close? (): Promise<void>
}

/**
 * Augment this interface to type request.session from your schema:
 *   declare module 'fastify-zod-session' { interface SessionRegister { schema: typeof MySchema } }
 */

export interface SessionRegister {}

type AnySchema = z.ZodType<Record<string, any>, Record<string, any>>

/** The schema registered through SessionRegister, or a loose record schema when none is. */
export type RegisteredSchema = SessionRegister extends { schema: infer S extends AnySchema } ? S : AnySchema
/** The typed session data: the registered schema's output. */
export type SessionData = z.output<RegisteredSchema>

/** Seconds as a number, or a string such as '30s', '15m', '4h', '7d'. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

export interface SessionCookieOptions {
  /** @default '/' */
  path?: string
  /** the cookie's Domain; leave unset for the exact host that set it @default undefined */
  domain?: string
  /** @default true */
  httpOnly?: boolean
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none' | boolean
  /** 'auto' = Secure when the request came over https (honours trustProxy) @default 'auto' */
  secure?: boolean | 'auto'
  /** CHIPS: a cookie partitioned by top-level site (needs secure: true) @default undefined */
  partitioned?: boolean
}

export interface BindOptions {
  /** the client IP must match the one the session was created from (true), or its /24 (IPv4) or /64 (IPv6) ('subnet') @default undefined */
  ip?: true | 'subnet'
  /** the User-Agent header must match the one the session was created with @default undefined */
  userAgent?: true
  /** @default 'destroy' */
  onMismatch?: 'destroy' | 'log'
}

/**
 * An express-session / @fastify/session store: connect-redis's RedisStore, connect-pg-simple's PGStore,
 * fastify-session-redis-store, … The session is an `object`: the stores type it as an interface
 * (express-session's SessionData), which has no index signature, so a Record<string, unknown> refused them.
 */
export interface LegacyStore {
  get (sid: string, callback: (err: unknown, session?: object | null) => void): unknown
  destroy? (sid: string, callback: (err?: unknown) => void): unknown
}

export interface LegacyOptions {
  /** @fastify/session's cookie name @default 'sessionId' */
  cookieName?: string
  /** @fastify/session's secret (or its array, or its signer object): what its cookies were signed with */
  secret: string | string[] | CookieSigner
  /** @fastify/session's `algorithm`, when it was not the default @default 'sha256' */
  algorithm?: string
  /** the old store, read only (nothing is written to it) */
  store: LegacyStore
  /** delete the old session once imported: closes the window in which a copy of the old cookie could be imported again, but rolling back then logs those users out @default false */
  deleteAfterImport?: boolean
}

export type MigrateFunction = (data: unknown, error: z.ZodError) => unknown

/** What happened to a session; see `SessionEvent` */
export type SessionEventName = 'created' | 'regenerated' | 'rotated' | 'destroyed' | 'revoked' | 'expired' | 'bindingMismatch' | 'rejected' | 'imported'

/**
 * A lifecycle event, given to the `events` handlers and published on the diagnostics channel
 * `fastify-zod-session:<type>`. `id` is the session id, its store key: never a usable cookie (the
 * secret is not in it).
 */
export interface SessionEvent<T extends SessionEventName = SessionEventName> {
  type: T
  /** absent when a cookie was refused before any lookup (a bad signature), and for `revoked` */
  id?: string
  owner?: string
  /** the request's client, when a request caused it */
  ip?: string
  userAgent?: string
  /**
   * rejected: 'signature' | 'unknown' | 'secret'; expired: 'idle' | 'absolute'; bindingMismatch: 'ip' | 'userAgent';
   * destroyed: 'destroy' | 'binding'; revoked: 'all' | 'others'
   */
  reason?: string
  /** revoked: how many sessions were removed */
  count?: number
  /** regenerated: the id of the stored session it replaced (deleted with this response), when there was one */
  previousId?: string
  at: Date
}

/** One handler per event; a handler that throws or rejects is logged and never breaks the request */
export type SessionEventHandlers = { [T in SessionEventName]?: (event: SessionEvent<T>) => unknown }

/** An object that signs and verifies cookie values, such as @fastify/cookie's Signer (accepted as `secret`) */
export interface CookieSigner {
  sign (value: string): string
  unsign (signed: string): { valid: boolean, renew: boolean, value: string | null }
}

export interface FastifyZodSessionOptions {
  /**
   * ≥32 characters, or an array of them: the first signs, all verify; or a signer object with
   * sign()/unsign() such as @fastify/cookie's `Signer` (required)
   */
  secret: string | string[] | CookieSigner
  /** the HMAC hash signing the cookie with string secrets (at least 256 bits) @default 'sha256' */
  algorithm?: string
  /**
   * makes a new session's id, called with the request (as @fastify/session's): 1 to 128 characters
   * A-Z a-z 0-9 _ -, unique. The id is a lookup key, not the credential: the cookie also carries a
   * random 256-bit secret @default 22 random base64url characters (128 bits)
   */
  idGenerator?: (request: FastifyRequest) => string
  /** the zod schema of the session data; register it with `SessionRegister` for types (required) */
  schema: RegisteredSchema
  /**
   * a SessionStore, or a storage URL (memory://, file://, dir://, redis://, rediss://, redis+cluster://,
   * mysql://, postgres://, mongodb://, mongodb+srv://, memcached://): the plugin then creates the client and closes it
   * @default new MemoryStore()
   */
  store?: SessionStore | string
  /** @default 'session_id' */
  cookieName?: string
  /** the cookie's attributes @default { path: '/', httpOnly: true, sameSite: 'lax', secure: 'auto' } */
  cookie?: SessionCookieOptions
  /** sliding expiry; null = none @default '15m' */
  idleTimeout?: Duration | null
  /** hard limit from creation (login), never extended; null = none @default '12h' */
  absoluteTimeout?: Duration | null
  /** how often the cookie's secret is replaced; null = off @default '4m' */
  rotationInterval?: Duration | null
  /** how long a replaced secret keeps working @default '30s' */
  rotationGrace?: Duration
  /** an unmodified session's expiry is extended at most this often (clamped to a quarter of the idle timeout) @default '1m' */
  touchAfter?: Duration
  /** store (and send a cookie for) a new session nothing was written to @default false */
  saveUninitialized?: boolean
  /** ties a session to the client's IP and/or user agent @default undefined (off) */
  bind?: BindOptions
  /** stored data that fails the schema: 'reset' = a fresh session, 'error' = a 500, or a function migrating the old shape @default 'reset' */
  onInvalidData?: 'reset' | 'error' | MigrateFunction
  /** a store outage while loading: 'fail' = 503, 'anonymous' = serve the request with an unsaved empty session @default 'fail' */
  onStoreError?: 'fail' | 'anonymous'
  /** how often expired sessions are removed from stores that need it (memory, file, directory, MySQL, PostgreSQL), one prune at a time; null = never @default '10m' */
  pruneInterval?: Duration | null
  /** derives the owner (e.g. a user id) of a session from its data, for fastify.sessions @default undefined (no owners) */
  owner?: (data: SessionData) => string | undefined | null
  /** largest serialized session data accepted at save, in bytes; null = no limit @default 65536 */
  maxDataBytes?: number | null
  /**
   * a store call a request waits on (get, set, patch, rotate, touch, destroy, and each call of
   * fastify.sessions.list/revoke) fails after this long: FST_SESSION_STORE_UNAVAILABLE (503), or the
   * anonymous session with onStoreError 'anonymous'; fastify.sessions.prune/stats and the periodic prune
   * get 10 times as long. A login's save that lands after it is destroyed; a rotation, rolled back.
   * null = wait for the store's own timeouts @default '3s'
   */
  storeTimeout?: Duration | null
  /** migrate from @fastify/session without a re-login: a request with its cookie and none of ours gets its session imported @default undefined (off) */
  legacy?: LegacyOptions
  /** @fastify/session's option: sessions here always slide (see touchAfter); only `true` is accepted @default true */
  rolling?: true
  /**
   * at most `limit` live sessions per owner (needs `owner` and a store that lists owners), enforced when a
   * session is first saved with an owner (a login through regenerate()): `evictOldest` logs the oldest
   * login out, `evictIdlest` the longest unused, `refuse` answers FST_SESSION_LIMIT (409) @default undefined (no limit)
   */
  maxSessionsPerOwner?: { limit: number, policy: 'evictOldest' | 'evictIdlest' | 'refuse' }
  /**
   * encrypt the session data at rest: each data value, and the recorded IP addresses and User-Agent, are
   * AES-256-GCM ciphertext in the store, bound to the session id and the key name @default undefined (off)
   */
  encryption?: EncryptionOptions
  /** lifecycle event handlers (audit logs, closing a user's websockets on logout, "new device" mails) @default {} */
  events?: SessionEventHandlers
}

/** options.encryption: session data encrypted at rest (AES-256-GCM), per data key, with a key ring. */
export interface EncryptionOptions {
  /**
   * the keys, newest first: the first encrypts, every one decrypts (rotate by putting a new key first; a
   * session read under an older key is encrypted again with the first at its next write). `key`: 32
   * random bytes, a Buffer or a base64 / hex string (`openssl rand -base64 32`); `id`: 1 to 64 characters
   * A-Z a-z 0-9 _ -, stored beside each value
   */
  keys: Array<{ id: string, key: string | Uint8Array }>
  /**
   * read values stored before encryption was turned on (they are encrypted at the session's next write);
   * off, such a session is corrupt to the plugin: a fresh session and one warning @default false
   */
  acceptPlaintext?: boolean
}

/** One session as fastify.sessions.list() reports it; `id` is the session id (not a credential). */
export interface SessionInfo {
  id: string
  createdAt: number
  expiresAt: number | null
  ip?: string
  userAgent?: string
  lastAccessAt?: number
  lastAccessIp?: string
}

export interface SessionsApi {
  list (owner: string): Promise<SessionInfo[]>
  /** destroys every session of `owner`, except the one with id (or the Session) `except`; returns the count */
  revoke (owner: string, options?: { except?: string | { id: string } }): Promise<number>
  /** removes expired sessions now, returns how many (0 when the store expires them itself) */
  prune (): Promise<number>
  /** counts the live sessions, and per owner where the store can; FST_SESSION_UNSUPPORTED (501) when the store cannot count */
  stats (): Promise<SessionStats>
}
