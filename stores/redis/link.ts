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

/**
 * What node-redis 5 and 6 keep of a cluster's slot map (`cluster._slots`, not a documented API, so the
 * store feature-detects it): `rediscover(client)` re-reads the map from that client's node, then from
 * the known or root nodes. node-redis 4 keeps it in a private field: nothing makes it re-read the map
 * but a MOVED or ASK reply.
 */
interface NodeRedisSlots {
  rediscover: (startWith: unknown) => Promise<unknown>
  masters: ReadonlyArray<{ address?: string, host?: string, port?: number, client?: { isReady?: boolean, isOpen?: boolean, options?: unknown } }>
  replicas?: ReadonlyArray<{ client?: { isReady?: boolean, isOpen?: boolean, options?: unknown } }>
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
  /** from how many arguments a script's are cheaper sent packed in one (RedisStore's oneArgument()) */
  readonly packFrom: number
  /**
   * re-reads a Cluster's slot map in the background (at most once a second), for a client that would
   * not by itself (node-redis re-reads it only on a MOVED or ASK reply): the expiry watch calls it, so a
   * master added by resharding, or a promoted replica, is watched before a request happens to meet it
   */
  readonly refreshTopology?: () => void
}

const ignore = (): void => {}

/** `call`, but given up (and `giveUp` run) after 1 s: closing a connection must not wait on a node that is gone */
async function bounded (call: Promise<unknown>, giveUp: () => void): Promise<void> {
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

/** an ioredis client's `keyPrefix`: a Buffer one (which ioredis also takes) is refused, the store compares keys as text */
function keyPrefixOf (options: { keyPrefix?: unknown } | undefined): string {
  const keyPrefix = options?.keyPrefix ?? ''
  if (typeof keyPrefix !== 'string') throw new TypeError('RedisStore: the ioredis client\'s `keyPrefix` must be a string (or use the store\'s `prefix`)')
  return keyPrefix
}

function ioredisNode (node: IORedisClient, db: number): RedisNode {
  return {
    send: async args => await node.call(...args as [string, ...string[]]),
    label: `${node.options.host ?? ''}:${node.options.port ?? ''}`,
    db,
    ready: async () => { await whenReady(node) },
    async subscribe (channel, onMessage, onState) {
      if (node.status === 'end') throw new Error('the Redis client was closed')
      const subscriber = node.duplicate(SUBSCRIBER)
      subscriber.on('error', ignore) // it reconnects and resubscribes by itself
      subscriber.on('message', (from: string, message: string) => { if (from === channel) onMessage(message) })
      let subscribed = false
      let down = false
      subscriber.on('close', () => { if (subscribed && !down) { down = true; onState?.('down') } })
      // 'ready' comes once the subscription is restored (autoResubscribe)
      subscriber.on('ready', () => { if (down) { down = false; onState?.('up') } })
      // the subscriber lives no longer than the client it was made from
      const end = (): void => { subscriber.disconnect() }
      node.once('end', end)
      const stop = async (): Promise<void> => {
        node.off('end', end)
        subscribed = false
        // QUIT would wait in the offline queue for a node that is gone
        if (subscriber.status !== 'ready') subscriber.disconnect()
        else await bounded(subscriber.quit(), () => { subscriber.disconnect() })
      }
      try {
        await subscriber.subscribe(channel)
        subscribed = true
      } catch (err) {
        await stop()
        throw err
      }
      return stop
    }
  }
}

/**
 * Measured on a create (9 arguments, ~700 characters) and a write (~10 short ones), 32 calls in flight:
 * ioredis spends ~0.4 µs per argument and gains from packing both (a create 20.7 → 18.9 µs); node-redis
 * spends ~0.1, lost 1-2.5 µs per create and broke even on a write, and gained 3.4 µs on 0.2's
 * 35-argument create.
 */
const IOREDIS_PACK_FROM = 2
const NODE_REDIS_PACK_FROM = 24

/**
 * Scripts go by EVALSHA through `call`, not defineCommand(): with autoPipelining, ioredis copies every
 * defined command onto each Pipeline it builds (one per event-loop turn), a cost every command pays.
 */
function ioredisLink (client: IORedisClient | IORedisCluster): RedisLink {
  const cluster = 'isCluster' in client && client.isCluster
  // the client's promises handed on as they are: an async wrapper per layer costs every command a promise
  const send = (args: string[]): Promise<unknown> => client.call(...args as [string, ...string[]])
  return {
    cluster,
    keyPrefix: keyPrefixOf(client.options),
    packFrom: IOREDIS_PACK_FROM,
    send: (_key, args) => send(args),
    run: (script, key, args) => evalScript(send, script, key, args),
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
    async subscribe (channel, onMessage, onState) {
      if (node.isOpen === false) throw new Error('the Redis client was closed')
      const subscriber = node.duplicate()
      let subscribed = false
      let down = false
      // it reconnects and resubscribes by itself; an error while subscribed is a lost connection
      subscriber.on('error', () => { if (subscribed && !down) { down = true; onState?.('down') } })
      subscriber.on('ready', () => { if (down) { down = false; onState?.('up') } })
      const destroy = (): void => { (subscriber.destroy ?? subscriber.disconnect)?.call(subscriber) }
      // the subscriber lives no longer than the client it was made from
      const end = (): void => { destroy() }
      node.on('end', end)
      const stop = async (): Promise<void> => {
        node.off?.('end', end)
        subscribed = false
        if (subscriber.isOpen === false) return
        // a node that is gone never answers QUIT
        if ((subscriber as { isReady?: boolean }).isReady === false) destroy()
        else await bounded(Promise.resolve((subscriber.close ?? subscriber.quit)?.call(subscriber)), destroy)
      }
      try {
        await subscriber.connect()
        await subscriber.subscribe(channel, message => { onMessage(message) })
        subscribed = true
      } catch (err) {
        await stop()
        throw err
      }
      return stop
    }
  }
}

function nodeRedisLink (client: NodeRedisClient): RedisLink {
  const send = (args: string[]): Promise<unknown> => client.sendCommand(args)
  return {
    cluster: false,
    keyPrefix: '',
    packFrom: NODE_REDIS_PACK_FROM,
    send: (_key, args) => send(args),
    run: (script, key, args) => evalScript(send, script, key, args),
    masters: async () => [nodeRedisNode(client, client.options?.database ?? 0)]
  }
}

/** at most one slot-map refresh a second: a dead master fails every request sent to it */
const REFRESH_MS = 1000
/** replies that say nothing of the topology: the command reached a master that owns the key */
const KEY_ERROR_RE = /^(WRONGTYPE|NOSCRIPT|ERR |NOPERM|NOAUTH|WRONGPASS|OOM|BUSY |EXECABORT)/

/** node-redis 4's cluster cannot be made to re-read its slot map: warned once per process */
let warnedV4 = false

/**
 * Makes a node-redis cluster follow a failover. It re-reads the slot map only when a node answers
 * MOVED or ASK, which a dead master never does: its slots' commands would fail ("The client is offline")
 * until the dead node itself came back. So every failure that is not a reply about the key (a lost
 * connection, an offline node, a timeout, CLUSTERDOWN, READONLY…) starts a background refresh of the
 * slot map, at most one a second, read from a node that answers; so does a command left unanswered
 * (stallWatch). Returns what waits for a running one.
 */
function slotRefresher (cluster: NodeRedisCluster): { failed: (err: unknown) => void, settled: () => Promise<void>, stalled: () => void } {
  const slots = (cluster as unknown as { _slots?: NodeRedisSlots })._slots
  if (typeof slots?.rediscover !== 'function') {
    if (!warnedV4) {
      warnedV4 = true
      process.emitWarning('RedisStore: this node-redis cluster client (node-redis 4) cannot be made to follow a failover: after a master dies, its sessions fail until that node is back. Use node-redis 5 or later, or ioredis, with a Redis Cluster that has replicas.', { code: 'FST_SESSION_REDIS_NO_FAILOVER' })
    }
    return { failed: ignore, settled: async () => {}, stalled: ignore }
  }
  let last = 0
  let running: Promise<void> | null = null
  /**
   * re-reads the map from a node that answers a PING now. A frozen node's client is still "ready" and
   * the kernel still accepts connections to it, so a rediscover started there (or its fall-back to the
   * root nodes, which may be that node) would wait forever, and every later one, node-redis's own on a
   * MOVED reply too, would wait on it: none is started when no node answers.
   */
  const rediscover = async (): Promise<void> => {
    const nodes = [...slots.masters, ...(slots.replicas ?? [])].map(node => node.client).filter(client => client?.isReady === true)
    for (let i = nodes.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[nodes[i], nodes[j]] = [nodes[j], nodes[i]]
    }
    for (const client of nodes) {
      if (!await answers(client as unknown as NodeRedisClient)) continue
      await slots.rediscover(client)
      return
    }
  }
  const refresh = (): void => {
    const now = Date.now()
    if (running !== null || now - last < REFRESH_MS) return
    last = now
    running = rediscover().then(ignore, ignore).finally(() => { running = null })
  }
  return {
    failed: err => {
      if (!KEY_ERROR_RE.test(String((err as Error)?.message))) refresh()
    },
    settled: async () => { await running },
    stalled: refresh
  }
}

/** whether a node client answers a PING within PROBE_MS */
const PROBE_MS = 500
async function answers (client: NodeRedisClient): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>(resolve => { timer = setTimeout(() => { resolve(false) }, PROBE_MS) })
  try {
    return await Promise.race([client.sendCommand(['PING']).then(() => true, () => false), late])
  } finally {
    clearTimeout(timer)
  }
}

/** a command unanswered this long means a node that stopped answering without closing its connections (frozen, partitioned) */
const STALL_MS = 1000

/**
 * Watches the commands in flight: `start` before one, the function it returns when it settles. A node
 * that hangs without closing its connections fails nothing, and node-redis has no command timeout: a
 * new command finding the oldest one in flight older than STALL_MS calls `stalled` (no timer per command).
 */
function stallWatch (stalled: () => void): () => () => void {
  const inFlight = new Map<number, number>() // insertion order: the first is the oldest
  let next = 0
  return () => {
    const now = Date.now()
    const oldest = inFlight.values().next()
    if (oldest.done !== true && now - oldest.value > STALL_MS) stalled()
    const id = next++
    inFlight.set(id, now)
    return () => { inFlight.delete(id) }
  }
}

/** a master of a node-redis cluster: its client is asked for only when a command goes to it */
function nodeRedisClusterNode (cluster: NodeRedisCluster, master: { address?: string, host?: string, port?: number }): RedisNode {
  const client = async (): Promise<RedisNode> => nodeRedisNode(await cluster.nodeClient(master as never), 0)
  return {
    label: master.address ?? `${master.host ?? ''}:${master.port ?? ''}`,
    db: 0,
    send: async args => await (await client()).send(args),
    ready: async () => { await client() },
    subscribe: async (channel, onMessage, onState) => await (await client()).subscribe(channel, onMessage, onState)
  }
}

function nodeRedisClusterLink (cluster: NodeRedisCluster): RedisLink {
  const refresher = slotRefresher(cluster)
  const started = stallWatch(refresher.stalled)
  const watched = async <T>(call: () => Promise<T>): Promise<T> => {
    const done = started()
    try {
      return await call()
    } catch (err) {
      refresher.failed(err)
      throw err
    } finally {
      done()
    }
  }
  return {
    cluster: true,
    keyPrefix: '',
    packFrom: NODE_REDIS_PACK_FROM,
    refreshTopology: refresher.stalled,
    send: async (key, args) => await watched(async () => await cluster.sendCommand(key, false, args)),
    run: async (script, key, args) => await watched(async () => await evalScript(async a => await cluster.sendCommand(key, false, a), script, key, args)),
    masters: async () => {
      await refresher.settled() // the map a refresh is reading, not the one it replaces
      return cluster.masters.map(master => nodeRedisClusterNode(cluster, master as { address?: string }))
    }
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
