// Lifecycle events: the `events` option's handlers and Node's diagnostics_channel
// (`fastify-zod-session:<type>`), built only when someone listens.
import { channel, type Channel } from 'node:diagnostics_channel'
import type { FastifyBaseLogger } from 'fastify'
import type { ExpiredSession, PruneOptions, SessionEvent, SessionEventHandlers, SessionEventName } from '../types/index.js'

export const EVENT_NAMES: readonly SessionEventName[] = ['created', 'regenerated', 'rotated', 'destroyed', 'revoked', 'expired', 'bindingMismatch', 'rejected', 'imported']

const CHANNELS = Object.fromEntries(EVENT_NAMES.map(name => [name, channel(`fastify-zod-session:${name}`)])) as Record<SessionEventName, Channel>

type Fields = Omit<SessionEvent, 'type' | 'at'>

/** an `expired` event (reason 'idle') per session the store removed */
export function reportExpired (events: SessionEvents, log: FastifyBaseLogger): (sessions: ExpiredSession[]) => void {
  return sessions => { for (const { id, owner } of sessions) events.emit('expired', { id, owner, reason: 'idle' }, log) }
}

/**
 * The plugin's prune options: what was removed is asked for only while someone listens for `expired`,
 * since naming it costs the stores more (a row lock, a delete per document, a file read)
 */
export function pruneOptions (events: SessionEvents, log: FastifyBaseLogger): PruneOptions {
  return events.listens('expired') ? { onExpired: reportExpired(events, log) } : {}
}

export class SessionEvents {
  readonly #handlers: SessionEventHandlers

  constructor (handlers: SessionEventHandlers) {
    this.#handlers = handlers
  }

  /** a handler or a diagnostics_channel subscriber wants `type` now */
  listens (type: SessionEventName): boolean {
    return this.#handlers[type] !== undefined || CHANNELS[type].hasSubscribers
  }

  /** An event a request caused, with its client's ip and user agent; nothing is built when nobody listens. */
  emitFor (type: SessionEventName, state: { ip: string, userAgent: string | undefined, log: FastifyBaseLogger }, fields: Fields): void {
    if (this.listens(type)) this.emit(type, { ...fields, ip: state.ip, userAgent: state.userAgent }, state.log)
  }

  /** Delivers an event. A handler that throws or rejects is logged: it never breaks the request. */
  emit (type: SessionEventName, fields: Fields, log: FastifyBaseLogger): void {
    const handler = this.#handlers[type] as ((event: SessionEvent) => unknown) | undefined
    const published = CHANNELS[type]
    if (handler === undefined && !published.hasSubscribers) return
    const event: SessionEvent = { type, ...fields, at: new Date() }
    if (published.hasSubscribers) published.publish(event)
    if (handler === undefined) return
    const failed = (err: unknown): void => { log.warn({ err, event: type }, 'a session event handler failed') }
    try {
      const result = handler(event)
      if (result instanceof Promise) result.catch(failed)
    } catch (err) {
      failed(err)
    }
  }
}
