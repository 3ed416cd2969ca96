// RedisStore's storage URLs (redis://, rediss://, redis+cluster://, rediss+cluster://): the ioredis
// client each creates, and the store on it. stores/url/open.ts calls these, with the URL parse checked.
import { RedisStore, type RedisLayout } from '../redis.js'
import { driver, positive, type OpenedFromUrl, type StoreUrl } from '../kit/url.js'

/**
 * Connects an ioredis client made here. Its 'error' events are kept (ioredis prints unhandled ones to
 * the console on every reconnect; failed commands reach the plugin as 503s anyway), and a failed first
 * connect reports the reason (e.g. WRONGPASS) rather than "Connection is closed".
 */
async function connected (client: import('ioredis').Redis | import('ioredis').Cluster): Promise<void> {
  let last: Error | undefined
  client.on('error', (err: Error) => { last = err })
  try {
    await client.connect()
  } catch (err) {
    client.disconnect()
    throw last ?? err
  }
}

/**
 * What a session store needs from its Redis client when the server stops answering: no offline queue
 * (a command while disconnected fails at once instead of waiting for a reconnect), a command timeout,
 * one retry, and reconnect attempts at most 500 ms apart so the first request after recovery is fast.
 */
function redisFailFast (url: StoreUrl): import('ioredis').RedisOptions {
  return {
    connectTimeout: positive(url.params.connectTimeout) ?? 2000,
    commandTimeout: positive(url.params.commandTimeout) ?? 1000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: (times: number) => Math.min(50 * times, 500)
  }
}

/** redis://, rediss:// */
export async function fromUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  const { Redis } = await driver<typeof import('ioredis')>('ioredis', 'redis://')
  const { host, port } = url.hosts[0]
  const client = new Redis({
    host,
    port,
    username: url.username,
    password: url.password,
    db: Number(url.database ?? 0),
    tls: url.tls ? { servername: host } : undefined,
    lazyConnect: true,
    enableAutoPipelining: true,
    ...redisFailFast(url)
  })
  await connected(client)
  return { store: new RedisStore({ client, prefix: url.params.prefix, layout: url.params.layout as RedisLayout | undefined }), client: async () => client.quit() }
}

/** redis+cluster://, rediss+cluster:// */
export async function fromClusterUrl (url: StoreUrl): Promise<OpenedFromUrl> {
  const { Cluster } = await driver<typeof import('ioredis')>('ioredis', 'redis+cluster://')
  const client = new Cluster(url.hosts, {
    lazyConnect: true,
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    redisOptions: { username: url.username, password: url.password, tls: url.tls ? {} : undefined, ...redisFailFast(url) },
    clusterRetryStrategy: (times) => times > 3 ? null : 200
  })
  await connected(client)
  return { store: new RedisStore({ client, prefix: url.params.prefix, layout: url.params.layout as RedisLayout | undefined }), client: async () => client.quit() }
}
