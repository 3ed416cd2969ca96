// The request hooks and fastify.decryptSession(), made by named factories over one SessionManager.
// Callback hooks with synchronous fast paths: a request with no store work allocates no promise.
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, onSendHookHandler } from 'fastify'
import type { SessionManager } from './manager.js'

/**
 * `done` throws when the reply was already sent by someone else (a hook that sent without returning
 * the reply, as @fastify/passport's redirects do): nothing may escape a promise chain as an unhandled
 * rejection, which would end the process.
 */
function finish (request: FastifyRequest, done: () => void): void {
  try {
    done()
  } catch (err) {
    request.log.warn({ err }, 'session hook finished after the reply was sent')
  }
}

/** onRequest: request.session, opened from the cookie (one store read) or new. */
export function loadSessionHook (manager: SessionManager): onRequestHookHandler {
  return function loadSession (request, _reply, done) {
    let loaded: ReturnType<SessionManager['load']>
    try {
      loaded = manager.load(request)
    } catch (err) {
      done(err as Error)
      return
    }
    if (!(loaded instanceof Promise)) {
      request.session = loaded as never
      done()
      return
    }
    // one reaction, no .catch() promise: this is every stored session's path
    loaded.then(
      session => { request.session = session as never; finish(request, done) },
      (err: Error) => { finish(request, () => { done(err) }) }
    )
  }
}

/** onSend: the session persisted (unless the response is a 5xx), then its Set-Cookie and Vary. */
export function saveSessionHook (manager: SessionManager): onSendHookHandler {
  return function saveSession (request, reply, payload, done) {
    let pending: Promise<void> | undefined
    try {
      pending = manager.onSend(request, reply)
    } catch (err) {
      done(err as Error)
      return
    }
    if (pending === undefined) done(null, payload)
    else {
      pending.then(
        () => { finish(request, () => { done(null, payload) }) },
        (err: Error) => { finish(request, () => { done(err) }) }
      )
    }
  }
}

/** @fastify/session's fastify.decryptSession(cookieValue, request, [cookieOptions], callback) */
export function decryptSessionDecorator (fastify: FastifyInstance, manager: SessionManager): FastifyInstance['decryptSession'] {
  return function decryptSession (value: string, request: FastifyRequest, optionsOrCallback: unknown, maybeCallback?: unknown) {
    const given = (typeof optionsOrCallback === 'function' ? optionsOrCallback : maybeCallback) as (err?: Error | null) => void
    // a callback that throws (a WebSocket handler refusing the socket) must not become an unhandled rejection
    const callback = (err?: Error | null): void => {
      try {
        given(err)
      } catch (thrown) {
        fastify.log.error({ err: thrown }, 'the decryptSession() callback threw')
      }
    }
    let opened: ReturnType<SessionManager['open']>
    try {
      opened = manager.open(request, manager.cookie.verify(value), Date.now())
    } catch (err) {
      callback(err as Error)
      return
    }
    Promise.resolve(opened).then(session => { request.session = session as never; callback() }, callback)
  } as FastifyInstance['decryptSession']
}
