// Types of `require('fastify-zod-session')`: the plugin function itself, with every named export on it
// (lib/require.cjs builds the same shape at run time).
import mod = require('../dist/cjs/lib/index.js')

declare const fastifyZodSession: typeof mod.default & {
  default: typeof mod.default
  fastifyZodSession: typeof mod.default
  errorCodes: typeof mod.errorCodes
  MemoryStore: typeof mod.MemoryStore
  Session: typeof mod.Session
}

// types only, so it merges with the value above
declare namespace fastifyZodSession {
  export type MemoryStore = mod.MemoryStore
  export type Session<D extends Record<string, any> = Record<string, any>> = mod.Session<D>
  export type MemoryStoreOptions = mod.MemoryStoreOptions
  export type SessionRecord = mod.SessionRecord
  export type SessionMeta = mod.SessionMeta
  export type SessionPatch = mod.SessionPatch
  export type SessionStore = mod.SessionStore
  /**
   * Augment this interface to type request.session from your schema:
   *   declare module 'fastify-zod-session' { interface SessionRegister { schema: typeof MySchema } }
   */
  export interface SessionRegister {}
  export type RegisteredSchema = mod.RegisteredSchema
  export type SessionData = mod.SessionData
  export type Duration = mod.Duration
  export type SessionCookieOptions = mod.SessionCookieOptions
  export type BindOptions = mod.BindOptions
  export type MigrateFunction = mod.MigrateFunction
  export type FastifyZodSessionOptions = mod.FastifyZodSessionOptions
  export type SessionInfo = mod.SessionInfo
  export type SessionEvent<T extends SessionEventName = SessionEventName> = mod.SessionEvent<T>
  export type SessionEventName = mod.SessionEventName
  export type SessionEventHandlers = mod.SessionEventHandlers
  export type SessionsApi = mod.SessionsApi
  export type SessionStats = mod.SessionStats
  export type PruneOptions = mod.PruneOptions
  export type ExpiredSession = mod.ExpiredSession
  export type ExpiryWatch = mod.ExpiryWatch
  export type LegacyOptions = mod.LegacyOptions
  export type LegacyStore = mod.LegacyStore
  export type CookieSigner = mod.CookieSigner
  export type RequestSessionStore = mod.RequestSessionStore
  export type StoredSessionView = mod.StoredSessionView
}

// From a CommonJS file, `declare module 'fastify-zod-session'` augments this file's namespace: an
// augmentation can merge with an interface, not with a type alias (TS2300). So SessionRegister above is an
// interface of its own, and the one the typings read (request.session, the schema option) extends it.
declare module '../dist/cjs/types/index.js' {
  interface SessionRegister extends fastifyZodSession.SessionRegister {}
}

export = fastifyZodSession
