// Step-up freshness as a route option: `config: { session: { fresh: '5m' } }` answers
// FST_SESSION_NOT_FRESH (401) before the body is parsed and the handler runs, unless the session's
// login (its last regenerate()) is that recent.
import type { onRequestHookHandler, RouteOptions } from 'fastify'
import type { Duration } from '../types/index.js'
import { errorCodes } from './errors.js'
import { toMs } from './duration.js'

function requireFresh (maxAge: Duration): onRequestHookHandler {
  return function requireFreshLogin (request, _reply, done) {
    if (request.session?.isFresh(maxAge) === true) done()
    else done(new errorCodes.FST_SESSION_NOT_FRESH(String(maxAge)))
  }
}

/** onRoute: routes with `config.session.fresh` get the check as their first onRequest hook (after the session loads) */
export function addFreshnessCheck (route: RouteOptions): void {
  const maxAge = (route.config as { session?: { fresh?: unknown } } | undefined)?.session?.fresh
  if (maxAge === undefined) return
  if (toMs(maxAge) === undefined) {
    throw new errorCodes.FST_SESSION_INVALID_OPTIONS(`config.session.fresh of ${String(route.method)} ${route.url}`, `${String(maxAge)} is not a duration (seconds, or a string like '5m')`)
  }
  const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
  route.onRequest = [requireFresh(maxAge as Duration), ...own] as RouteOptions['onRequest']
}
