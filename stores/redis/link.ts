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
  readonly options: { host?: string | undefined, port?: number | undefined, db?: number | undefined }
  readonly isCluster: boolean
  subscribe (channel: string): Promise<unknown>
  on (event: 'error' | 'message', listener: (...args: any[]) => void): unknown
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

/**
 * The expiry subscriber is a duplicate of the app's client, but not with its fail-fast settings: those
 * are for requests, which must answer at once while Redis is down. With `enableOfflineQueue: false`
 * (the README's and the storage URL's setting) a fresh duplicate's SUBSCRIBE, sent before it has
 * connected, fails with "Stream isn't writeable"; a command timeout or a retry limit would end a
 * subscription that only has to wait for Redis to come back. It queues, waits and resubscribes.
 */
const SUBSCRIBER: SubscriberOptions = { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, autoResubscribe: true, lazyConnect: false }

/** An ioredis (v5 or v6) `Cluster`, as far as the store uses it. */
export interface IORedisCluster {
  call (command: string, ...args: string[]): Promise<unknown>
  defineCommand (name: string, definition: { lua: string, numberOfKeys?: number }): void
  readonly isCluster: boolean
  readonly status: string
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
  on (event: 'error' | 'end', listener: (err: Error) => void): unknown
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

/** One master: SCAN and CONFIG go to it, and expiry notifications come from it. */
export interface RedisNode {
  send (args: string[]): Promise<unknown>
  /** host:port, for messages */
  readonly label: string
  readonly db: number
  /** resolves once the client can take commands (an ioredis client still connecting, with no offline queue, cannot) */
  ready (): Promise<void>
  /** `onMessage` for every message on `channel`, on a connection of its own; resolves to what stops it */
  subscribe (channel: string, onMessage: (message: string) => void): Promise<() => Promise<void>>
}

export interface RedisLink {
  /** one command, on the node that owns `key` */
  send (key: string, args: string[]): Promise<unknown>
  /** one of SCRIPTS with KEYS[1] = `key`, on the node that owns it */
  run (script: ScriptName, key: string, args: string[]): Promise<unknown>
  /** every master (the server itself when it is not a Cluster) */
  masters (): Promise<RedisNode[]>
}

const ignore = (): void => {}

/** HGETALL's reply as a flat [field, value, …] list: RESP2 gives one, RESP3 a map */
export function flatHash (reply: unknown): string[] {
  if (Array.isArray(reply)) return reply as string[]
  if (reply instanceof Map) return [...reply].flat() as string[]
  if (reply !== null && typeof reply === 'object') return Object.entries(reply).flat() as string[]
  return []
}

/**
 * Resolves once an ioredis client or Cluster is ready (a Cluster knows its masters only then), at once
 * when it is, or when it was made with lazyConnect and never connected (nothing would make it ready);
 * rejects when it is closed first.
 */
async function whenReady (client: Pick<IORedisCluster, 'status' | 'once' | 'off'>): Promise<void> {
  if (client.status === 'ready' || client.status === 'wait') return
  if (client.status === 'end') throw new Error('the Redis client was closed')
  await new Promise<void>((resolve, reject) => {
    const ready = (): void => { client.off('end', end); resolve() }
    const end = (): void => { client.off('ready', ready); reject(new Error('the Redis client was closed')) }
    client.once('ready', ready)
    client.once('end', end)
  })
}

function ioredisNode (node: IORedisClient, db: number): RedisNode {
  return {
    send: async args => await node.call(...args as [string, ...string[]]),
    label: `${node.options.host ?? ''}:${node.options.port ?? ''}`,
    db,
    ready: async () => { await whenReady(node) },
    async subscribe (channel, onMessage) {
      if (node.status === 'end') throw new Error('the Redis client was closed')
      const subscriber = node.duplicate(SUBSCRIBER)
      subscriber.on('error', ignore) // it reconnects and resubscribes by itself
      subscriber.on('message', (from: string, message: string) => { if (from === channel) onMessage(message) })
      // the subscriber lives no longer than the client it was made from
      const end = (): void => { subscriber.disconnect() }
      node.once('end', end)
      const stop = async (): Promise<void> => {
        node.off('end', end)
        await subscriber.quit().catch(() => { subscriber.disconnect() })
      }
      try {
        await subscriber.subscribe(channel)
      } catch (err) {
        await stop()
        throw err
      }
      return stop
    }
  }
}

function ioredisLink (client: IORedisClient | IORedisCluster): RedisLink {
  for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { numberOfKeys: 1, lua })
  const scripts = client as unknown as Record<ScriptName, (key: string, ...args: string[]) => Promise<unknown>>
  const cluster = 'isCluster' in client && client.isCluster
  return {
    send: async (_key, args) => await client.call(...args as [string, ...string[]]),
    run: async (script, key, args) => await scripts[script](key, ...args),
    masters: async () => {
      if (!cluster) return [ioredisNode(client as IORedisClient, (client as IORedisClient).options.db ?? 0)]
      await whenReady(client as IORedisCluster) // a Cluster still connecting knows no masters yet
      return (client as IORedisCluster).nodes('master').map(node => ioredisNode(node, 0))
    }
  }
}

const SHA1 = Object.fromEntries(Object.entries(SCRIPTS).map(([name, lua]) => [name, createHash('sha1').update(lua).digest('hex')])) as Record<ScriptName, string>

/** EVALSHA, and EVAL (which caches the script) when this server has not seen it yet */
async function evalScript (send: (args: string[]) => Promise<unknown>, script: ScriptName, key: string, args: string[]): Promise<unknown> {
  try {
    return await send(['EVALSHA', SHA1[script], '1', key, ...args])
  } catch (err) {
    if (!String((err as Error)?.message).startsWith('NOSCRIPT')) throw err
    return await send(['EVAL', SCRIPTS[script], '1', key, ...args])
  }
}

function nodeRedisNode (node: NodeRedisClient, db: number): RedisNode {
  const options = node.options
  const socket = options?.socket as { host?: string, port?: number } | undefined
  return {
    send: async args => await node.sendCommand(args),
    label: socket?.host !== undefined ? `${socket.host}:${socket.port ?? ''}` : options?.url?.replace(/\/\/[^@]*@/, '//') ?? '',
    db,
    ready: async () => {}, // the store is given a connected client
    async subscribe (channel, onMessage) {
      if (node.isOpen === false) throw new Error('the Redis client was closed')
      const subscriber = node.duplicate()
      subscriber.on('error', ignore) // it reconnects and resubscribes by itself
      // the subscriber lives no longer than the client it was made from
      const end = (): void => { (subscriber.destroy ?? subscriber.disconnect)?.call(subscriber) }
      node.on('end', end)
      const stop = async (): Promise<void> => {
        node.off?.('end', end)
        try {
          await (subscriber.close ?? subscriber.quit)?.call(subscriber)
        } catch {
          (subscriber.destroy ?? subscriber.disconnect)?.call(subscriber)
        }
      }
      try {
        await subscriber.connect()
        await subscriber.subscribe(channel, message => { onMessage(message) })
      } catch (err) {
        await stop()
        throw err
      }
      return stop
    }
  }
}

function nodeRedisLink (client: NodeRedisClient): RedisLink {
  const send = async (args: string[]): Promise<unknown> => await client.sendCommand(args)
  return {
    send: async (_key, args) => await send(args),
    run: async (script, key, args) => await evalScript(send, script, key, args),
    masters: async () => [nodeRedisNode(client, client.options?.database ?? 0)]
  }
}

function nodeRedisClusterLink (cluster: NodeRedisCluster): RedisLink {
  return {
    send: async (key, args) => await cluster.sendCommand(key, false, args),
    run: async (script, key, args) => await evalScript(async a => await cluster.sendCommand(key, false, a), script, key, args),
    masters: async () => await Promise.all(cluster.masters.map(async master => nodeRedisNode(await cluster.nodeClient(master as never), 0)))
  }
}

/** The link for an ioredis or node-redis client; a TypeError for anything else. */
export function redisLink (client: RedisClient): RedisLink {
  const c = client as unknown as Record<string, unknown> | null
  if (c !== null && typeof c === 'object') {
    if (typeof c.defineCommand === 'function' && typeof c.call === 'function') return ioredisLink(client as IORedisClient | IORedisCluster)
    if (typeof c.sendCommand === 'function' && typeof c.nodeClient === 'function' && 'masters' in c) return nodeRedisClusterLink(client as NodeRedisCluster)
    if (typeof c.sendCommand === 'function' && typeof c.duplicate === 'function') return nodeRedisLink(client as NodeRedisClient)
  }
  throw new TypeError('RedisStore: `client` must be an ioredis Redis or Cluster, or a node-redis client (createClient() or createCluster())')
}
