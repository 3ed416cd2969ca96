// RedisStore's link to an ioredis `Redis` or `Cluster` (see link.ts).
import { bounded, evalScript, ignore, type IORedisClient, type IORedisCluster, type RedisLink, type RedisNode, type SubscriberOptions } from './link.js'

/**
 * The expiry subscriber is a duplicate of the app's client, but not with its fail-fast settings: those
 * are for requests, which must answer at once while Redis is down. With `enableOfflineQueue: false`
 * (the README's and the storage URL's setting) a fresh duplicate's SUBSCRIBE, sent before it has
 * connected, fails with "Stream isn't writeable"; a command timeout or a retry limit would end a
 * subscription that only has to wait for Redis to come back. It queues, waits and resubscribes.
 */
const SUBSCRIBER: SubscriberOptions = { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined, autoResubscribe: true, lazyConnect: false }

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
 * From how many arguments a script's are sent packed (RedisStore's packArgs()). Measured on a
 * create (9 arguments, ~700 characters) and a write (~10 short ones), 32 calls in flight: ioredis
 * spends ~0.4 µs per argument and gains from packing both (a create 20.7 → 18.9 µs); node-redis does
 * not (node-redis-link.ts).
 */
const IOREDIS_PACK_FROM = 2

/**
 * Every link's uncork still to come, run on process 'exit' too: a process.exit() in the turn still sends
 * what the connection holds, the app's own commands on it included.
 */
const uncorks = new Set<() => void>()
let exitHooked = false

/** an ioredis Redis as the corked path uses it: its connection, and the option it turns off per call */
type Corkable = IORedisClient & {
  readonly stream?: { readonly writable: boolean, cork: () => void, uncork: () => void } | undefined
  readonly options: { enableAutoPipelining?: boolean | undefined }
}

/**
 * A Redis client's (not a Cluster's) commands sent by its `call` with autoPipelining off for that call
 * (ioredis reads the option as it is called: `call` then sends at once, as sendCommand), the connection
 * corked until the event loop's check phase, so every command of a turn goes out in one write, as
 * node-redis writes. ioredis's autoPipelining batches too, but through a Pipeline per turn that keeps
 * every command until its last reply, one Pipeline in flight at a time: 32 loops of SETs cost the client
 * 9.0-9.4 µs per command that way and promoted ~1 KB each to the old generation (a mark-compact every
 * ~18,000 commands), 5.5 µs and 40 bytes corked. While the client cannot write (connecting, offline
 * queue) nothing is corked: `call` queues or fails the command as it would.
 */
function corkedSender (client: Corkable): (args: string[]) => Promise<unknown> {
  let corked: NonNullable<Corkable['stream']> | undefined
  const uncork = (): void => {
    const stream = corked
    corked = undefined
    uncorks.delete(uncork)
    stream?.uncork()
  }
  return args => {
    const stream = client.stream
    if (corked === undefined && client.status === 'ready' && stream?.writable === true) {
      corked = stream
      stream.cork()
      setImmediate(uncork)
      uncorks.add(uncork)
      if (!exitHooked) {
        exitHooked = true
        process.on('exit', () => { for (const run of uncorks) run() })
      }
    }
    const options = client.options
    const autoPipelining = options.enableAutoPipelining
    options.enableAutoPipelining = false
    try {
      return client.call(...args as [string, ...string[]])
    } finally {
      options.enableAutoPipelining = autoPipelining
    }
  }
}

/**
 * Scripts go by EVALSHA, not defineCommand(): with autoPipelining, ioredis copies every defined command
 * onto each Pipeline it builds (one per event-loop turn), a cost every command pays.
 */
export function ioredisLink (client: IORedisClient | IORedisCluster): RedisLink {
  const cluster = 'isCluster' in client && client.isCluster
  // the client's promises handed on as they are: an async wrapper per layer costs every command a promise
  const send = cluster ? (args: string[]): Promise<unknown> => client.call(...args as [string, ...string[]]) : corkedSender(client as Corkable)
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
