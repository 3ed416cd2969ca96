// What RedisStore needs from its client, for both Redis clients: ioredis (Redis, Cluster) and
// node-redis (the `redis` package's createClient() and createCluster(), the client connect-redis uses).
import { createHash } from 'node:crypto'
import { SCRIPTS, type ScriptName } from './scripts.js'

// The clients are described by the methods the store calls, not imported from ioredis or redis: the
// published typings then compile in a project that has installed only one of the two clients.

/** An ioredis (v5 or v6) `Redis`, as far as the store uses it. */
export interface IORedisClient {
  call (command: string, ...args: string[]): Promise<unknown>
  defineCommand (name: string, definition: { lua: string, numberOfKeys?: number }): void
  duplicate (override?: SubscriberOptions): IORedisClient
  readonly status: string
  readonly options: { host?: string | undefined, port?: number | undefined, db?: number | undefined, keyPrefix?: string | undefined }
  readonly isCluster: boolean
  subscribe (channel: string): Promise<unknown>
  on (event: 'error' | 'message' | 'close' | 'ready', listener: (...args: any[]) => void): unknown
  once (event: 'ready' | 'end', listener: () => void): unknown
  off (event: 'ready' | 'end', listener: () => void): unknown
  quit (): Promise<unknown>
  disconnect (): void
}

/** What the expiry subscriber overrides of the client it duplicates (ioredis `RedisOptions`). */
export interface SubscriberOptions {
  enableOfflineQueue?: boolean
  maxRetriesPerRequest?: number | null
  commandTimeout?: number | undefined
  autoResubscribe?: boolean
  lazyConnect?: boolean
}

/** An ioredis (v5 or v6) `Cluster`, as far as the store uses it. */
export interface IORedisCluster {
  call (command: string, ...args: string[]): Promise<unknown>
  defineCommand (name: string, definition: { lua: string, numberOfKeys?: number }): void
  readonly isCluster: boolean
  readonly status: string
  readonly options?: { keyPrefix?: string | undefined }
  once (event: 'ready' | 'end', listener: () => void): unknown
  off (event: 'ready' | 'end', listener: () => void): unknown
  nodes (role: 'master'): IORedisClient[]
}

/** A node-redis (`redis` v4 or later) client, connected, as far as the store uses it. */
export interface NodeRedisClient {
  sendCommand (args: string[]): Promise<unknown>
  duplicate (): NodeRedisClient
  connect (): Promise<unknown>
  subscribe (channel: string, listener: (message: string, channel: string) => void): Promise<unknown>
  on (event: 'error' | 'end' | 'ready', listener: (err: Error) => void): unknown
  off?: (event: 'end', listener: () => void) => unknown
  readonly isOpen?: boolean
  close?: () => Promise<unknown>
  quit?: () => Promise<unknown>
  destroy?: () => unknown
  disconnect?: () => unknown
  readonly options?: { database?: number, url?: string, socket?: unknown } | undefined
}

/** A node-redis Redis Cluster client (`createCluster()`), connected. */
export interface NodeRedisCluster {
  sendCommand (firstKey: string | undefined, isReadonly: boolean | undefined, args: string[]): Promise<unknown>
  readonly masters: readonly unknown[]
  nodeClient (node: never): NodeRedisClient | Promise<NodeRedisClient>
}

export type RedisClient = IORedisClient | IORedisCluster | NodeRedisClient | NodeRedisCluster

/** What a subscription tells of its connection: lost (`down`), or back and subscribed again (`up`). */
export type SubscriptionState = 'down' | 'up'

/** One master: SCAN and CONFIG go to it, and expiry notifications come from it. */
export interface RedisNode {
  send (args: string[]): Promise<unknown>
  /** host:port, for messages */
  readonly label: string
  readonly db: number
  /** resolves once the client can take commands (an ioredis client still connecting, with no offline queue, cannot) */
  ready (): Promise<void>
  /**
   * `onMessage` for every message on `channel`, on a connection of its own; `onState` when that
   * connection is lost and when it is subscribed again; resolves to what stops it (at once, even when
   * the node is gone)
   */
  subscribe (channel: string, onMessage: (message: string) => void, onState?: (state: SubscriptionState) => void): Promise<() => Promise<void>>
}

export interface RedisLink {
  /** one command, on the node that owns `key` */
  send (key: string, args: string[]): Promise<unknown>
  /** one of SCRIPTS with KEYS[1] = `key`, on the node that owns it */
  run (script: ScriptName, key: string, args: string[]): Promise<unknown>
  /**
   * every master (the server itself when it is not a Cluster), as the client knows them now: after a
   * failover, once the client has re-read the slot map, the promoted replica instead of the dead master
   */
  masters (): Promise<RedisNode[]>
  /** a Cluster's client whose slot map can change (failover, resharding): the expiry watch follows it */
  readonly cluster: boolean
  /**
   * what the client puts before every key it is sent (ioredis `keyPrefix`, '' for node-redis): the keys
   * in Redis, which SCAN and expiry notifications name, begin with it
   */
  readonly keyPrefix: string
  /** from how many arguments a script's are cheaper sent packed (RedisStore's packArgs()) */
  readonly packFrom: number
  /**
   * re-reads a Cluster's slot map in the background (at most once a second), for a client that would
   * not by itself (node-redis re-reads it only on a MOVED or ASK reply): the expiry watch calls it, so a
   * master added by resharding, or a promoted replica, is watched before a request happens to meet it
   */
  readonly refreshTopology?: () => void
}

export const ignore = (): void => {}

/** `call`, but given up (and `giveUp` run) after 1 s: closing a connection must not wait on a node that is gone */
export async function bounded (call: Promise<unknown>, giveUp: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>(resolve => { timer = setTimeout(() => { resolve('late') }, 1000) })
  try {
    if (await Promise.race([call.then(ignore, () => 'failed'), late]) !== undefined) giveUp()
  } finally {
    clearTimeout(timer)
  }
}

/** HGETALL's reply as a flat [field, value, …] list: RESP2 gives one, RESP3 a map */
export function flatHash (reply: unknown): string[] {
  if (Array.isArray(reply)) return reply as string[]
  if (reply instanceof Map) return [...reply].flat() as string[]
  if (reply !== null && typeof reply === 'object') return Object.entries(reply).flat() as string[]
  return []
}

const SHA1 = Object.fromEntries(Object.entries(SCRIPTS).map(([name, lua]) => [name, createHash('sha1').update(lua).digest('hex')])) as Record<ScriptName, string>

/** EVALSHA, and EVAL (which caches the script) when this server has not seen it yet */
export async function evalScript (send: (args: string[]) => Promise<unknown>, script: ScriptName, key: string, args: string[]): Promise<unknown> {
  try {
    return await send(['EVALSHA', SHA1[script], '1', key, ...args])
  } catch (err) {
    if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err
    return await send(['EVAL', SCRIPTS[script], '1', key, ...args])
  }
}
