import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { ResolvedOptions } from './options.js'
import type { SessionState } from './session.js'
import { newId, storeKey } from './cookie.js'
import { storeError } from './errors.js'

// Helpers over a session's state shared by loading and persisting.

export function freshState (request: FastifyRequest, now: number, log: FastifyBaseLogger, data: Record<string, unknown>): SessionState {
  return {
    id: null,
    key: null,
    cookieKey: null,
    isNew: true,
    createdAt: now,
    expiresAt: null,
    meta: {},
    data,
    changed: new Set(),
    unset: new Set(),
    snapshots: null,
    full: false,
    metaChanged: false,
    rotationDue: false,
    touchDue: false,
    sendCookie: false,
    clearCookie: false,
    anonymous: false,
    read: false,
    ip: request.ip,
    userAgent: request.headers['user-agent'],
    log
  }
}

/** Turns the state into a new, empty, unsaved session (after destroy, or when the stored one vanished). */
export function resetState (state: SessionState, data: Record<string, unknown>): void {
  Object.assign(state, {
    id: null,
    key: null,
    cookieKey: null,
    isNew: true,
    createdAt: Date.now(),
    expiresAt: null,
    meta: {},
    data,
    snapshots: null,
    full: false,
    metaChanged: false,
    rotationDue: false,
    touchDue: false,
    sendCookie: false
  })
  state.changed.clear()
  state.unset.clear()
}

/** Ids are made lazily: a request that never saves never pays for one. */
export function ensureId (state: SessionState): string {
  if (state.id === null) {
    state.id = newId()
    state.key = storeKey(state.id)
  }
  return state.id
}

/** The sliding idle deadline (per-session or global), capped by the absolute one. */
export function expiryFor (opts: ResolvedOptions, state: SessionState, now: number): number | null {
  const idle = state.meta.idleTimeout !== undefined ? state.meta.idleTimeout : opts.idleTimeout
  const absolute = state.meta.absoluteExpiresAt ?? null
  const sliding = idle === null ? null : now + idle
  if (absolute === null) return sliding
  return sliding === null ? absolute : Math.min(sliding, absolute)
}

/** Finds nested mutations of values handed out by get() or data (plain JSON: a changed Date shows in its ISO text). */
export function detectNested (state: SessionState): void {
  if (state.snapshots === null) return
  for (const [key, json] of state.snapshots) {
    if (!state.changed.has(key) && JSON.stringify(state.data[key]) !== json) state.changed.add(key)
  }
  state.snapshots = null
}

/** Runs a store operation, wrapping its failure once as FST_SESSION_STORE_UNAVAILABLE. */
export async function callStore<T> (action: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op()
  } catch (err) {
    throw storeError(action, err)
  }
}
