import fastifyZodSession from './plugin.js'

export default fastifyZodSession
export { fastifyZodSession }
export { errorCodes } from './errors.js'
export { MemoryStore, type MemoryStoreOptions } from '../stores/memory.js'
export { Session } from './session.js'
export type { RequestSessionStore, StoredSessionView } from './store-view.js'
export type {
  SessionRecord, SessionMeta, SessionPatch, SessionStore, SessionRegister, RegisteredSchema, SessionData,
  Duration, SessionCookieOptions, CookieSigner, BindOptions, MigrateFunction, FastifyZodSessionOptions, SessionInfo, SessionsApi,
  SessionStats, PruneOptions, ExpiredSession, ExpiryWatch, SessionEvent, SessionEventName, SessionEventHandlers, LegacyOptions, LegacyStore,
  EncryptionOptions
} from '../types/index.js'
