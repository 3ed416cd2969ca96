// Every store on its real backend (PostgreSQL in both majors the store is tested on; MongoDB: the fake
// unless MONGODB_URL), for tests that run through all of them.
import { join } from 'node:path'
import { Redis, Cluster } from 'ioredis'
import { createPool } from 'mysql2/promise'
import { createClient } from 'redis'
import type { SessionStore } from '../../types/index.js'
import { MemoryStore } from '../../stores/memory.js'
import { FileStore } from '../../stores/file.js'
import { DirectoryStore } from '../../stores/directory.js'
import { RedisStore } from '../../stores/redis.js'
import { MySQLStore } from '../../stores/mysql.js'
import { MemcachedStore } from '../../stores/memcached.js'
import { MongoStore } from '../../stores/mongodb.js'
import { PostgresStore } from '../../stores/postgres.js'
import { startPostgres } from './pg-server.mjs'
import pg from 'pg'
import { FakeSessionCollection } from './fake-mongo.js'
import { startMariaDB, startMemcached, startRedis, startRedisCluster } from './servers.js'

export interface NamedStore { name: string, store: SessionStore, cleanup: () => Promise<void> }

export async function allStores (dir: string): Promise<NamedStore[]> {
  const redisServer = await startRedis()
  const redis = new Redis(redisServer.url)
  const nodeRedis = createClient({ url: redisServer.url })
  await nodeRedis.connect()
  const cluster = await startRedisCluster()
  const clusterClient = new Cluster(cluster.nodes)
  const maria = await startMariaDB()
  const admin = createPool({ uri: maria.url, connectionLimit: 1 })
  await admin.query('CREATE DATABASE IF NOT EXISTS fzs_stress')
  await admin.end()
  const pool = createPool({ uri: `${maria.url}fzs_stress`, connectionLimit: 10 })
  const postgres = await startPostgres({ major: 15 })
  const pgPool = new pg.Pool({ connectionString: postgres.url, max: 10 })
  const postgres18 = await startPostgres({ major: 18 })
  const pg18Pool = new pg.Pool({ connectionString: postgres18.url, max: 10 })
  const memcached = await startMemcached()
  const memcachedStore = new MemcachedStore({ servers: [new URL(memcached.url).host] })
  return [
    { name: 'memory', store: new MemoryStore(), cleanup: async () => {} },
    { name: 'file', store: new FileStore({ path: join(dir, 'sessions.jsonl') }), cleanup: async () => {} },
    { name: 'directory', store: new DirectoryStore({ path: join(dir, 'sessions') }), cleanup: async () => {} },
    { name: 'redis', store: new RedisStore({ client: redis }), cleanup: async () => { await redis.quit(); await nodeRedis.quit(); await redisServer.stop() } },
    { name: 'redis (node-redis)', store: new RedisStore({ client: nodeRedis, prefix: 'node:' }), cleanup: async () => {} },
    { name: 'redis-cluster', store: new RedisStore({ client: clusterClient }), cleanup: async () => { await clusterClient.quit(); await cluster.stop() } },
    { name: 'mysql', store: new MySQLStore({ pool }), cleanup: async () => { await pool.end(); await maria.stop() } },
    { name: 'postgres 15', store: new PostgresStore({ pool: pgPool }), cleanup: async () => { await pgPool.end(); await postgres.stop() } },
    { name: 'postgres 18', store: new PostgresStore({ pool: pg18Pool }), cleanup: async () => { await pg18Pool.end(); await postgres18.stop() } },
    { name: 'memcached', store: memcachedStore, cleanup: async () => { await memcachedStore.close(); await memcached.stop() } },
    { name: 'mongodb (fake)', store: new MongoStore({ collection: new FakeSessionCollection() }), cleanup: async () => {} }
  ]
}
