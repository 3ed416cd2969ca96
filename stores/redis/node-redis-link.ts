// RedisStore's link to a node-redis client (`createClient()`) or cluster (`createCluster()`) (see link.ts).
import { bounded, evalScript, ignore, type NodeRedisClient, type NodeRedisCluster, type RedisLink, type RedisNode } from './link.js'

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

/**
 * From how many arguments a script's are sent packed (RedisStore's packArgs()): node-redis spends ~0.1 µs
 * per argument. Packed, a create (11 arguments) and a write cost it 0.1-0.7 µs less, Redis ~1 µs more
 * than arguments apart (measured with the NUL-separated packing): even, so apart up to 0.2's 35-argument
 * create, which gained 3.4 µs (ioredis: see ioredis-link.ts).
 */
const NODE_REDIS_PACK_FROM = 24

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

export function nodeRedisLink (client: NodeRedisClient): RedisLink {
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

export function nodeRedisClusterLink (cluster: NodeRedisCluster): RedisLink {
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
