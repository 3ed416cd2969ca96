import type { SessionStore } from '../types/index.js'

/** what a request waits on; prune, stats, ready and close may legitimately take long */
const TIMED = ['get', 'set', 'create', 'patch', 'rotate', 'touch', 'destroy', 'listByOwner', 'destroyByOwner'] as const
const UNTIMED = ['prune', 'stats', 'ready', 'close'] as const

export class StoreTimeoutError extends Error {
  constructor (method: string, ms: number) {
    super(`${method}() got no answer within ${ms} ms (storeTimeout)`)
    this.name = 'StoreTimeoutError'
  }
}

/** `call`, or a StoreTimeoutError once `ms` have passed without an answer */
export function deadline<T> (call: Promise<T>, ms: number, method: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new StoreTimeoutError(method, ms)) }, ms)
    call.then(
      value => { clearTimeout(timer); resolve(value) },
      (err: unknown) => { clearTimeout(timer); reject(err) }
    )
  })
}

/**
 * The store as the plugin's requests see it: a call that has not settled after `ms` fails, so a frozen
 * store costs a request `ms` and a 503, never a hang. The late call still runs to its end; every store
 * operation is atomic, so it lands whole or not at all.
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
