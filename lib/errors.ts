import createError, { type FastifyErrorConstructor } from '@fastify/error'

// Each type written out with FastifyErrorConstructor imported by name: the inferred `createError.X`
// namespace types do not resolve under moduleResolution "bundler" in users' projects.
type Code<C extends string, S extends number> = FastifyErrorConstructor<{ code: C, statusCode: S }>

/** Every error this plugin raises. The README's Errors table lists the same codes (a test keeps them in sync). */
export const errorCodes: {
  FST_SESSION_INVALID_OPTIONS: Code<'FST_SESSION_INVALID_OPTIONS', 500>
  /** 500: the app's value fails the schema; 400: the value's content is what no store can carry (see lib/json-value.ts) */
  FST_SESSION_INVALID_DATA: Code<'FST_SESSION_INVALID_DATA', 400 | 500>
  FST_SESSION_INVALID_STORED_DATA: Code<'FST_SESSION_INVALID_STORED_DATA', 500>
  FST_SESSION_STORE_UNAVAILABLE: Code<'FST_SESSION_STORE_UNAVAILABLE', 503>
  FST_SESSION_OWNER_UNSUPPORTED: Code<'FST_SESSION_OWNER_UNSUPPORTED', 501>
  FST_SESSION_CONFLICT: Code<'FST_SESSION_CONFLICT', 503>
  FST_SESSION_TOO_LARGE: Code<'FST_SESSION_TOO_LARGE', 500>
  FST_SESSION_NOT_FRESH: Code<'FST_SESSION_NOT_FRESH', 401>
  FST_SESSION_LIMIT: Code<'FST_SESSION_LIMIT', 409>
  FST_SESSION_UNSUPPORTED: Code<'FST_SESSION_UNSUPPORTED', 501>
} = {
  FST_SESSION_INVALID_OPTIONS: createError('FST_SESSION_INVALID_OPTIONS', 'Invalid fastify-zod-session option "%s": %s', 500, TypeError),
  FST_SESSION_INVALID_DATA: createError('FST_SESSION_INVALID_DATA', 'Session data failed the schema: %s', 500),
  FST_SESSION_INVALID_STORED_DATA: createError('FST_SESSION_INVALID_STORED_DATA', 'Stored session data failed the schema: %s', 500),
  FST_SESSION_STORE_UNAVAILABLE: createError('FST_SESSION_STORE_UNAVAILABLE', 'Session store unavailable while trying to %s', 503),
  FST_SESSION_OWNER_UNSUPPORTED: createError('FST_SESSION_OWNER_UNSUPPORTED', 'Session owners are not available: %s', 501),
  FST_SESSION_CONFLICT: createError('FST_SESSION_CONFLICT', 'Session not saved: other requests of the session kept writing it (%d attempts)', 503),
  FST_SESSION_TOO_LARGE: createError('FST_SESSION_TOO_LARGE', 'Session data is over the limit of %d bytes (%s)', 500),
  FST_SESSION_NOT_FRESH: createError('FST_SESSION_NOT_FRESH', 'This action needs a login within the last %s: log in again', 401),
  FST_SESSION_LIMIT: createError('FST_SESSION_LIMIT', 'This account already has its %d sessions: log out on another device first', 409),
  FST_SESSION_UNSUPPORTED: createError('FST_SESSION_UNSUPPORTED', 'Not supported by fastify-zod-session: %s', 501)
}

export type ErrorCode = keyof typeof errorCodes

/** Wraps a store failure once, keeping the original as `cause`. */
export function storeError (action: string, cause: unknown): Error {
  if (cause instanceof errorCodes.FST_SESSION_STORE_UNAVAILABLE) return cause
  return new errorCodes.FST_SESSION_STORE_UNAVAILABLE(action, { cause })
}
