import type { z } from 'zod'
import type { Session } from '../lib/session.js'

/** What a store keeps for one session. Stores receive it keyed by a hash of the cookie id. */
export interface SessionRecord {
  /** The session data; JSON-safe apart from Dates, which every store round-trips. */
  data: Record<string, unknown>
  /** ms since epoch */
  createdAt: number
  /** ms since epoch; the store's TTL; null = never expires */
  expiresAt: number | null
  meta: SessionMeta
}

export interface SessionMeta {
  /** IP address the session was created from */
  ip?: string
  userAgent?: string
  /** ms since epoch of the last request that wrote the session */
  lastAccessAt?: number
  lastAccessIp?: string
  owner?: string
  /** store key of the session this one was rotated into (a grace-window pointer) */
  rotatedTo?: string
  /** ms since epoch when the id is next due for rotation */
  rotateAt?: number
  absoluteExpiresAt?: number
  /** per-session idle timeout in ms, set by refresh() */
  idleTimeout?: number | null
}

export interface SessionPatch {
  set: Record<string, unknown>
  unset: string[]
  expiresAt: number | null
  meta?: Partial<SessionMeta>
}

export interface PruneOptions {
  /** called as the prune goes: `done` of `total` sessions examined (the CLI draws a progress bar) */
  onProgress?: (done: number, total: number) => void
}

export interface SessionStats {
  sessions: number
  /** live sessions per owner; absent when the store cannot tell */
  owners?: Record<string, number>
}

export interface SessionStore {
  /** undefined for missing AND expired */
  get (id: string): Promise<SessionRecord | undefined>
  /** upsert */
  set (id: string, record: SessionRecord): Promise<void>
  /** atomic per-key merge of top-level data keys; false when the session is missing */
  patch (id: string, change: SessionPatch): Promise<boolean>
  touch (id: string, expiresAt: number | null): Promise<void>
  /** idempotent */
  destroy (id: string): Promise<void>
  /** removes expired sessions, returns how many; for stores without native expiry */
  prune? (options?: PruneOptions): Promise<number>
  /** counts live sessions (rotation pointers excluded), and per owner where the store can; for operators */
  stats? (): Promise<SessionStats>
  listByOwner? (owner: string): Promise<string[]>
  destroyByOwner? (owner: string, except?: string): Promise<number>
  /** opens or creates what the store needs; the plugin awaits it, so a bad store fails app.ready() */
  ready? (): Promise<void>
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
  path?: string
  domain?: string
  httpOnly?: boolean
  sameSite?: 'lax' | 'strict' | 'none' | boolean
  /** 'auto' = Secure when the request came over https (honours trustProxy) */
  secure?: boolean | 'auto'
  partitioned?: boolean
}

export interface BindOptions {
  ip?: true | 'subnet'
  userAgent?: true
  onMismatch?: 'destroy' | 'log'
}

export type MigrateFunction = (data: unknown, error: z.ZodError) => unknown

export interface FastifyZodSessionOptions {
  /** ≥32 characters, or an array of them: the first signs, all verify */
  secret: string | string[]
  schema: RegisteredSchema
  /**
   * a SessionStore, or a storage URL (memory://, file://, dir://, redis://, rediss://, redis+cluster://,
   * mysql://, mongodb://, mongodb+srv://, memcached://): the plugin then creates the client and closes it
   */
  store?: SessionStore | string
  cookieName?: string
  cookie?: SessionCookieOptions
  idleTimeout?: Duration | null
  absoluteTimeout?: Duration | null
  rotationInterval?: Duration | null
  rotationGrace?: Duration
  touchAfter?: Duration
  saveUninitialized?: boolean
  bind?: BindOptions
  onInvalidData?: 'reset' | 'error' | MigrateFunction
  onStoreError?: 'fail' | 'anonymous'
  pruneInterval?: Duration | null
  /** derives the owner (e.g. a user id) of a session from its data, for fastify.sessions */
  owner?: (data: SessionData) => string | undefined | null
  /** largest serialized session data accepted at save, in bytes (default 64 KiB); null = no limit */
  maxDataBytes?: number | null
}

/** One session as fastify.sessions.list() reports it; `id` is the store key (a hash), never the cookie id. */
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
  /** destroys every session of `owner`, except the one with cookie id (or Session) `except`; returns the count */
  revoke (owner: string, options?: { except?: string | { id: string } }): Promise<number>
  /** removes expired sessions now, returns how many */
  prune (): Promise<number>
  /** the store key (hash) of a cookie id */
  keyOf (id: string): string
}

declare module 'fastify' {
  interface FastifyRequest {
    session: Session<SessionData>
  }
  interface FastifyInstance {
    sessionStore: SessionStore
    sessions: SessionsApi
  }
}
