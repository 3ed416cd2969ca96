// Creates a store (and the client it needs) from a storage URL. Drivers are optional dependencies of
// the user's app: each is imported only when its scheme is used, and a missing one names its package.
import { resolve } from 'node:path'
import type { SessionStore } from '../../types/index.js'
import { parseStoreUrl, type StoreUrl } from './parse.js'

export interface OpenedStore {
  store: SessionStore
  /** closes the store, then the client created for it */
  close: () => Promise<void>
}

async function driver<T> (specifier: string, scheme: string): Promise<T> {
  try {
    return await import(specifier) as T
  } catch (err) {
    const pkg = specifier.split('/')[0]
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${pkg}`)) {
      throw new Error(`${scheme} URLs need the ${pkg} package: npm install ${pkg}`)
    }
    throw err
  }
}

const flag = (value: string | undefined): boolean | undefined => value === undefined ? undefined : value === '' || value === 'true' || value === '1'

/** a parameter parseStoreUrl checked to be a positive integer */
const positive = (value: string | undefined): number | undefined => value === undefined ? undefined : Number(value)

/**
 * Hides the password in anything a driver reports: message and stack (loggers print both), causes,
 * and every property util.inspect would print (ioredis puts the AUTH command's args on its error).
 */
export function scrub (err: unknown, url: StoreUrl): Error {
  const error = err instanceof Error ? err : new Error(String(err))
  const hide = (text: string): string => url.secrets.reduce((t, secret) => t.split(secret).join('***'), text)
  const seen = new Set<object>()
  const walk = (value: Record<string, unknown>, depth: number): void => {
    if (seen.has(value) || depth > 6) return
    seen.add(value)
    const keys = new Set([...Object.keys(value), ...(value instanceof Error ? ['message', 'stack', 'cause'] : [])])
    for (const key of keys) {
      let item: unknown
      try { item = value[key] } catch { continue }
      if (typeof item === 'string') {
        const hidden = hide(item)
        if (hidden !== item) try { value[key] = hidden } catch {}
      } else if (item !== null && typeof item === 'object') {
        walk(item as Record<string, unknown>, depth + 1)
      }
    }
  }
  if (url.secrets.length > 0) walk(error as unknown as Record<string, unknown>, 0)
  return error
}

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

type Opener = (url: StoreUrl) => Promise<{ store: SessionStore, client?: () => Promise<unknown> }>

const openers: Record<StoreUrl['kind'], Opener> = {
  async memory (url) {
    const { MemoryStore } = await import('../memory.js')
    return { store: new MemoryStore({ maxEntries: positive(url.params.maxEntries), prefix: url.params.prefix }) }
  },
  async file (url) {
    const { FileStore } = await import('../file.js')
    return { store: new FileStore({ path: resolve(url.path!), prefix: url.params.prefix, fsync: flag(url.params.fsync), compactAfter: positive(url.params.compactAfter) }) }
  },
  async dir (url) {
    const { DirectoryStore } = await import('../directory.js')
    return { store: new DirectoryStore({ path: resolve(url.path!), prefix: url.params.prefix, fsync: flag(url.params.fsync) }) }
  },
  async redis (url) {
    const { Redis } = await driver<typeof import('ioredis')>('ioredis', 'redis://')
    const { RedisStore } = await import('../redis.js')
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
    return { store: new RedisStore({ client, prefix: url.params.prefix }), client: async () => client.quit() }
  },
  async 'redis-cluster' (url) {
    const { Cluster } = await driver<typeof import('ioredis')>('ioredis', 'redis+cluster://')
    const { RedisStore } = await import('../redis.js')
    const client = new Cluster(url.hosts, {
      lazyConnect: true,
      enableAutoPipelining: true,
      enableOfflineQueue: false,
      redisOptions: { username: url.username, password: url.password, tls: url.tls ? {} : undefined, ...redisFailFast(url) },
      clusterRetryStrategy: (times) => times > 3 ? null : 200
    })
    await connected(client)
    return { store: new RedisStore({ client, prefix: url.params.prefix }), client: async () => client.quit() }
  },
  async mysql (url) {
    const mysql = await driver<typeof import('mysql2/promise')>('mysql2/promise', 'mysql://')
    const { MySQLStore } = await import('../mysql.js')
    const pool = mysql.createPool({
      host: url.hosts[0].host,
      port: url.hosts[0].port,
      user: url.username,
      password: url.password,
      database: url.database,
      connectionLimit: positive(url.params.connectionLimit) ?? 10,
      connectTimeout: positive(url.params.connectTimeout) ?? 2000,
      enableKeepAlive: true
    })
    const createTable = url.params.createTable === undefined ? undefined : flag(url.params.createTable)
    const queryTimeout = positive(url.params.queryTimeout) ?? 2000
    return { store: new MySQLStore({ pool, table: url.params.table, createTable, prefix: url.params.prefix, queryTimeout }), client: async () => pool.end() }
  },
  async postgres (url) {
    const pg = await driver<{ default: typeof import('pg') }>('pg', 'postgres://')
    const { PostgresStore } = await import('../postgres.js')
    const pool = new pg.default.Pool({
      host: url.hosts[0].host,
      port: url.hosts[0].port,
      user: url.username,
      password: url.password,
      database: url.database,
      ssl: flag(url.params.ssl) === true ? { rejectUnauthorized: true } : undefined,
      max: positive(url.params.max) ?? 10,
      // fail fast: a frozen server costs a request these, not a hang
      connectionTimeoutMillis: positive(url.params.connectTimeout) ?? 2000,
      statement_timeout: positive(url.params.statementTimeout) ?? 2000,
      query_timeout: positive(url.params.queryTimeout) ?? 2500,
      keepAlive: true
    })
    pool.on('error', () => {}) // an idle client losing its server; the next query reports it
    const createTable = url.params.createTable === undefined ? undefined : flag(url.params.createTable)
    return {
      store: new PostgresStore({ pool, table: url.params.table, createTable, unlogged: flag(url.params.unlogged), prefix: url.params.prefix }),
      client: async () => { await pool.end() }
    }
  },
  async mongodb (url) {
    const { MongoClient } = await driver<typeof import('mongodb')>('mongodb', 'mongodb://')
    const { MongoStore } = await import('../mongodb.js')
    const client = new MongoClient(url.driverUrl!, { serverSelectionTimeoutMS: 5000 })
    try {
      await client.connect()
    } catch (err) {
      await client.close().catch(() => {})
      throw err
    }
    return {
      store: new MongoStore({ client, db: url.database ?? 'sessions', collection: url.params.collection, prefix: url.params.prefix }),
      client: async () => client.close()
    }
  },
  async memcached (url) {
    const { MemcachedStore } = await import('../memcached.js')
    await driver('memcache-client', 'memcached://')
    return { store: new MemcachedStore({ servers: url.hosts.map(h => `${h.host}:${h.port}`), prefix: url.params.prefix }) }
  }
}

/**
 * Opens the store a URL names and waits until it is usable (connected, table or folder created).
 * Throws with the password hidden; whatever was opened before a failure is closed again.
 */
export async function openStoreUrl (input: string | StoreUrl): Promise<OpenedStore> {
  const url = typeof input === 'string' ? parseStoreUrl(input) : input
  let opened: Awaited<ReturnType<Opener>> | undefined
  try {
    opened = await openers[url.kind](url)
    await opened.store.ready?.()
  } catch (err) {
    await opened?.store.close?.().catch(() => {})
    await opened?.client?.().catch(() => {})
    throw scrub(err, url)
  }
  const { store, client } = opened
  return {
    store,
    close: async () => {
      try {
        await store.close?.()
      } finally {
        await client?.()
      }
    }
  }
}
