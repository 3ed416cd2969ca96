// The store's upkeep for as long as the app runs: expired-session events from backends that time sessions
// out by themselves, and the periodic prune of those that do not.
import type { FastifyInstance } from 'fastify'
import type { ExpiryWatch, SessionStore } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import { bounded, deadline, StoreTimeoutError, walkBound } from './store-timeout.js'
import { pruneOptions, reportExpired } from './events.js'

/**
 * `expired` events for sessions the backend times out by itself (Redis), for as long as the app runs.
 * Where the backend cannot tell, the app still starts and says why. An unreachable store does not hold
 * up app.ready() longer than storeTimeout: the watch then starts whenever the store answers.
 */
export async function watchExpiries (fastify: FastifyInstance, store: SessionStore, opts: ResolvedOptions): Promise<void> {
  let watch: ExpiryWatch | null = null
  let closed = false
  fastify.addHook('onClose', async function stopExpiryWatch () {
    closed = true
    await watch?.stop()
  })
  const started = store.watchExpired!(reportExpired(opts.events, fastify.log)).then(async w => {
    if (w.notice !== undefined) fastify.log.warn(w.notice)
    if (closed) await w.stop()
    else watch = w
  }, (err: unknown) => {
    fastify.log.warn({ err }, 'session expiry notifications unavailable: sessions timing out in the store raise no \'expired\' event')
  })
  const ms = opts.storeTimeout ?? 10_000
  await deadline(started, ms, 'watchExpired').catch(() => {
    fastify.log.warn(`session expiry notifications did not start within ${ms} ms (store unreachable?): they start when it answers`)
  })
}

/**
 * store.prune() every pruneInterval, one at a time: a tick while the last prune has not answered is skipped,
 * so a hung store never piles prunes up. Its wait is bounded like fastify.sessions.prune()'s (walkBound);
 * past it a warning says so, and the ticks go on skipping until it answers.
 */
export function schedulePrunes (fastify: FastifyInstance, store: SessionStore, opts: ResolvedOptions): void {
  const ms = walkBound(opts.storeTimeout)
  let inFlight = false
  const timer = setInterval(() => {
    if (inFlight) {
      fastify.log.debug('session prune skipped: the previous one has not answered yet')
      return
    }
    inFlight = true
    const call = store.prune!(pruneOptions(opts.events, fastify.log))
    const settled = (): void => { inFlight = false }
    call.then(settled, settled)
    bounded(call, ms, 'prune').then(
      removed => { if (removed > 0) fastify.log.debug({ removed }, 'pruned expired sessions') },
      err => {
        if (err instanceof StoreTimeoutError) fastify.log.warn({ err }, `session prune got no answer within ${ms as number} ms: the next prunes wait until it answers`)
        else fastify.log.warn({ err }, 'session prune failed')
      }
    )
  }, opts.pruneInterval as number)
  timer.unref()
  fastify.addHook('onClose', async function stopPrunes () { clearInterval(timer) })
}
