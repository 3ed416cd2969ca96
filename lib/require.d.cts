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
  export type SessionRegister = mod.SessionRegister
  export type RegisteredSchema = mod.RegisteredSchema
  export type SessionData = mod.SessionData
  export type Duration = mod.Duration
  export type SessionCookieOptions = mod.SessionCookieOptions
  export type BindOptions = mod.BindOptions
  export type MigrateFunction = mod.MigrateFunction
  export type FastifyZodSessionOptions = mod.FastifyZodSessionOptions
  export type SessionInfo = mod.SessionInfo
  export type SessionEvent = mod.SessionEvent
  export type SessionEventName = mod.SessionEventName
  export type SessionEventHandlers = mod.SessionEventHandlers
  export type SessionsApi = mod.SessionsApi
  export type SessionStats = mod.SessionStats
  export type PruneOptions = mod.PruneOptions
}

export = fastifyZodSession
