// Every store on its real backend (PostgreSQL in both majors the store is tested on; MongoDB: the fake
// unless MONGODB_URL), for tests that run through all of them.
import { readdirSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { Redis, Cluster } from 'ioredis'
import { createPool, type Pool } from 'mysql2/promise'
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

export interface NamedStore {
  name: string
  store: SessionStore
  cleanup: () => Promise<void>
  /**
   * everything the backend holds, as text, read around the store (files, every key of the server, every
   * row of every table, every memcached item, the fake's documents); MemoryStore, whose backend is this
   * process, through get() of `ids`
   */
  dump: (ids: string[]) => Promise<string>
}

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
  const files = async (): Promise<string> => filesUnder(dir)
  const redisDump = async (): Promise<string> => await dumpRedis(redis)
  const clusterDump = async (): Promise<string> => (await Promise.all(clusterClient.nodes('master').map(dumpRedis))).join('\n')
  const mongo = new FakeSessionCollection()
  const memory = new MemoryStore()
  return [
    { name: 'memory', store: memory, cleanup: async () => {}, dump: async ids => JSON.stringify(await Promise.all(ids.map(async id => [id, await memory.get(id)]))) },
    { name: 'file', store: new FileStore({ path: join(dir, 'sessions.jsonl') }), cleanup: async () => {}, dump: files },
    { name: 'directory', store: new DirectoryStore({ path: join(dir, 'sessions') }), cleanup: async () => {}, dump: files },
    { name: 'redis', store: new RedisStore({ client: redis }), cleanup: async () => { await redis.quit(); await nodeRedis.quit(); await redisServer.stop() }, dump: redisDump },
    { name: 'redis (node-redis)', store: new RedisStore({ client: nodeRedis, prefix: 'node:' }), cleanup: async () => {}, dump: redisDump },
    { name: 'redis-cluster', store: new RedisStore({ client: clusterClient }), cleanup: async () => { await clusterClient.quit(); await cluster.stop() }, dump: clusterDump },
    { name: 'mysql', store: new MySQLStore({ pool }), cleanup: async () => { await pool.end(); await maria.stop() }, dump: async () => await dumpMySQL(pool) },
    { name: 'postgres 15', store: new PostgresStore({ pool: pgPool }), cleanup: async () => { await pgPool.end(); await postgres.stop() }, dump: async () => await dumpPostgres(pgPool) },
    { name: 'postgres 18', store: new PostgresStore({ pool: pg18Pool }), cleanup: async () => { await pg18Pool.end(); await postgres18.stop() }, dump: async () => await dumpPostgres(pg18Pool) },
    { name: 'memcached', store: memcachedStore, cleanup: async () => { await memcachedStore.close(); await memcached.stop() }, dump: async () => await dumpMemcached(new URL(memcached.url).host) },
    { name: 'mongodb (fake)', store: new MongoStore({ collection: mongo }), cleanup: async () => {}, dump: async () => JSON.stringify([...mongo.docs.values()]) }
  ]
}

/** every file under `dir`, its path and its whole content */
function filesUnder (dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter(entry => entry.isFile())
    .map(entry => `${join(entry.parentPath, entry.name)}\n${readFileSync(join(entry.parentPath, entry.name), 'utf8')}`).join('\n')
}

/** every key of one Redis server, each with its value whatever its type */
async function dumpRedis (redis: Redis): Promise<string> {
  const keys = await redis.keys('*')
  const values = await Promise.all(keys.map(async key => {
    const type = await redis.type(key)
    if (type === 'hash') return await redis.hgetall(key)
    if (type === 'set') return await redis.smembers(key)
    if (type === 'zset') return await redis.zrange(key, 0, -1, 'WITHSCORES')
    if (type === 'list') return await redis.lrange(key, 0, -1)
    return await redis.get(key)
  }))
  return JSON.stringify(keys.map((key, i) => [key, values[i]]))
}

async function dumpMySQL (pool: Pool): Promise<string> {
  const [tables] = await pool.query('SHOW TABLES') as unknown as [Array<Record<string, string>>]
  const rows = await Promise.all(tables.map(async t => (await pool.query(`SELECT * FROM \`${Object.values(t)[0]}\``))[0]))
  return JSON.stringify(rows, (_key, value: unknown) => Buffer.isBuffer(value) ? value.toString('utf8') : value)
}

async function dumpPostgres (pool: pg.Pool): Promise<string> {
  const { rows: tables } = await pool.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
  const dumps = await Promise.all(tables.map(async (t: { table_name: string }) => (await pool.query(`SELECT row_to_json(t)::text AS row FROM "${t.table_name}" t`)).rows.map((r: { row: string }) => r.row)))
  return dumps.flat().join('\n')
}

/** every item memcached holds: `lru_crawler metadump all` names them, `get` reads each */
async function dumpMemcached (host: string): Promise<string> {
  const [hostname, port] = host.split(':')
  const ask = async (command: string, end: string): Promise<string> => await new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => { socket.write(command) })
    let text = ''
    socket.on('data', chunk => {
      text += chunk.toString('utf8')
      if (text.endsWith(end)) {
        socket.end()
        resolve(text)
      }
    })
    socket.on('error', reject)
  })
  const listing = await ask('lru_crawler metadump all\r\n', 'END\r\n')
  const keys = [...listing.matchAll(/^key=(\S+)/gm)].map(m => decodeURIComponent(m[1]))
  return keys.length === 0 ? '' : await ask(`get ${keys.join(' ')}\r\n`, 'END\r\n')
}
