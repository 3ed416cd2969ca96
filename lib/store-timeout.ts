import type { SessionStore } from '../types/index.js'

/** what a request waits on; prune and stats walk the whole store (bounded by walkBound), ready and close may legitimately take long */
const TIMED = ['get', 'set', 'create', 'patch', 'rotate', 'touch', 'destroy', 'listByOwner', 'destroyByOwner'] as const
const UNTIMED = ['prune', 'stats', 'ready', 'close'] as const

/** the longest a Node timer waits */
const MAX_TIMER_MS = 2 ** 31 - 1
/** how many store calls' time a walk of the whole store (prune, stats) is given */
const WALK_FACTOR = 10

/**
 * The bound of a call that walks the whole store (prune, stats), which may legitimately take longer than
 * one request's call on a big store: 10 × storeTimeout (30 s by default); null when storeTimeout is null.
 */
export function walkBound (storeTimeout: number | null): number | null {
  return storeTimeout === null ? null : Math.min(storeTimeout * WALK_FACTOR, MAX_TIMER_MS)
}

/** `call` bounded by `ms`, or `call` itself when `ms` is null (no bound) */
export function bounded<T> (call: Promise<T>, ms: number | null, method: string): Promise<T> {
  return ms === null ? call : deadline(call, ms, method)
}

export class StoreTimeoutError extends Error {
  /** the call itself, still running: it may yet land (its rejection is handled) */
  readonly late: Promise<unknown>

  constructor (method: string, ms: number, late: Promise<unknown> = Promise.resolve(undefined)) {
    super(`${method}() got no answer within ${ms} ms (storeTimeout)`)
    this.name = 'StoreTimeoutError'
    this.late = late
  }
}

/** `call`, or a StoreTimeoutError once `ms` have passed without an answer */
export function deadline<T> (call: Promise<T>, ms: number, method: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new StoreTimeoutError(method, ms, call)) }, ms)
    call.then(
      value => { clearTimeout(timer); resolve(value) },
      (err: unknown) => { clearTimeout(timer); reject(err) }
    )
  })
}

/**
 * The store as the plugin's requests see it: a call that has not settled after `ms` fails, so a frozen
 * store costs a request `ms` and a 503, never a hang. The late call still runs to its end; every store
 * operation is atomic, so it lands whole or not at all. Where its landing would leave a state no client
 * holds, the caller undoes it (lateAnswer): a new session's save is destroyed, a rotation rolled back.
 */
export function withTimeout (store: SessionStore, ms: number): SessionStore {
  const timed: Record<string, unknown> = { constructor: store.constructor }
  const source = store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>
  for (const method of TIMED) {
    if (typeof source[method] === 'function') timed[method] = (...args: unknown[]) => deadline(source[method](...args), ms, method)
  }
  for (const method of UNTIMED) {
    if (typeof source[method] === 'function') timed[method] = source[method].bind(store)
  }
  return timed as unknown as SessionStore
}

/**
 * The call behind `err` when `err` (or its cause: a store error wraps it once) is a deadline that
 * passed: what it resolves to once it lands, or never when it fails. Undefined for any other error.
 */
export function lateAnswer (err: unknown): Promise<unknown> | undefined {
  const timeout = err instanceof StoreTimeoutError ? err : (err as { cause?: unknown } | null)?.cause
  if (!(timeout instanceof StoreTimeoutError)) return undefined
  return new Promise(resolve => { timeout.late.then(resolve, () => {}) })
}
