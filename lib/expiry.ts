import type { SessionMeta } from '../types/index.js'
import type { ResolvedOptions } from './options.js'

// When a session expires, and when its expiry is extended. A session lives at least its idle timeout
// after the last request and at most `touchAfter` longer: every extension sets now + idle + slack,
// and a request extends when less than the idle timeout is left. So a user active more often than
// the idle timeout is never logged out, and an idle session writes nothing for `slack`.

type Timing = Pick<ResolvedOptions, 'idleTimeout' | 'touchAfter'>

/** the session's own idle timeout (refresh()) or the app's */
export function idleOf (opts: Timing, meta: SessionMeta): number | null {
  return meta.idleTimeout !== undefined ? meta.idleTimeout : opts.idleTimeout
}

/** touchAfter, clamped to a quarter of the idle timeout */
export function slackOf (opts: Timing, idle: number | null): number {
  return idle === null ? 0 : Math.min(opts.touchAfter, Math.floor(idle / 4))
}

/** The expiry an extension made now sets: sliding, capped by the absolute deadline. */
export function expiryAt (opts: Timing, meta: SessionMeta, now: number): number | null {
  const idle = idleOf(opts, meta)
  const absolute = meta.absoluteExpiresAt ?? null
  const sliding = idle === null ? null : now + idle + slackOf(opts, idle)
  if (absolute === null) return sliding
  return sliding === null ? absolute : Math.min(sliding, absolute)
}

/** Less than the idle timeout is left, and an extension would move the expiry. */
export function extensionDue (opts: Timing, meta: SessionMeta, expiresAt: number | null, now: number): boolean {
  const idle = idleOf(opts, meta)
  if (idle === null || expiresAt === null) return false
  const next = expiryAt(opts, meta, now)
  return next !== null && expiresAt - now < idle && next > expiresAt
}
