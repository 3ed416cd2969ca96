import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { createPool } from 'mysql2/promise'
import type { SessionStore } from '../../types/index.js'
import { RedisStore } from '../../stores/redis.js'
import { MySQLStore } from '../../stores/mysql.js'
import { MemcachedStore } from '../../stores/memcached.js'
import { PostgresStore } from '../../stores/postgres.js'
import { POSTGRES_MAJORS, startPostgres } from '../helpers/pg-server.mjs'
import pg from 'pg'
import { startMariaDB, startMemcached, startRedis, type Server } from '../helpers/servers.js'
import { buildApp, sessionCookie } from '../helpers/app.js'

t.setTimeout(900_000)

// A backend killed with SIGKILL in the middle of a load run and restarted 5 s later: requests during
// the outage answer 503 fast, nothing crashes, no unhandled rejection, and requests succeed again
// within 2 s of the restart.
const TIMEOUT_MS = 1000
const rejections: unknown[] = []
process.on('unhandledRejection', reason => { rejections.push(reason) })

interface Sample { at: number, status: number, ms: number }

async function outage (t: Test, server: Server, store: SessionStore): Promise<void> {
  const app = await buildApp(t, { store, pruneInterval: null })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const cookies = await Promise.all(Array.from({ length: 10 }, async (_, i) => sessionCookie(await app.inject({ method: 'POST', url: `/login/u${i}` }))!))
  const samples: Sample[] = []
  const load = { running: true }
  const workers = cookies.map(async (cookie, i) => {
    while (load.running) {
      const started = Date.now()
      const res = await fetch(`${base}${i % 2 === 0 ? '/read' : '/visit'}`, { method: i % 2 === 0 ? 'GET' : 'POST', headers: { cookie } })
      await res.arrayBuffer()
      samples.push({ at: started, status: res.status, ms: Date.now() - started })
      await new Promise(resolve => setTimeout(resolve, 20))
    }
  })
  await new Promise(resolve => setTimeout(resolve, 1500))
  const killedAt = Date.now()
  await server.kill()
  // the outage starts when the process has died (kill() resolves on its exit): a request that started
  // while it was still dying may have been answered by it
  const diedAt = Date.now()
  await new Promise(resolve => setTimeout(resolve, 5000))
  // the outage ends when the restart begins: a server can answer before restart() has returned
  // (PostgreSQL accepts queries before pg_isready is next polled)
  const restartingAt = Date.now()
  await server.restart()
  const restartedAt = Date.now()
  await new Promise(resolve => setTimeout(resolve, 3000))
  load.running = false
  await Promise.all(workers)

  const before = samples.filter(s => s.at + s.ms < killedAt)
  const during = samples.filter(s => s.at > diedAt && s.at + s.ms < restartingAt)
  const recovered = samples.filter(s => s.at > restartedAt + 2000)
  t.ok(before.length > 0 && before.every(s => s.status === 200), `before: ${before.length} requests, all 200`)
  t.ok(during.length > 0, `during the outage: ${during.length} requests`)
  t.same([...new Set(during.map(s => s.status))].filter(s => s !== 503), [], 'every request during the outage is a 503')
  const slowest = Math.max(...during.map(s => s.ms))
  t.ok(slowest <= TIMEOUT_MS + 500, `no hang beyond the configured timeout (slowest ${slowest} ms)`)
  const firstOk = samples.find(s => s.at >= restartedAt && s.status === 200)
  t.ok(firstOk !== undefined && firstOk.at - restartedAt <= 2000, `first success ${firstOk === undefined ? 'never' : `${firstOk.at - restartedAt} ms`} after the restart`)
  t.ok(recovered.length > 0 && recovered.every(s => s.status === 200), `after recovery: ${recovered.length} requests, all 200`)
  t.same(rejections, [], 'no unhandled rejection')
}

t.test('Redis', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: TIMEOUT_MS, retryStrategy: () => 100 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  await new Promise(resolve => client.once('ready', resolve))
  await outage(t, server, new RedisStore({ client }))
})

t.test('MariaDB', async t => {
  const server = await startMariaDB()
  t.teardown(() => server.stop())
  const admin = createPool({ uri: server.url, connectionLimit: 1 })
  await admin.query('CREATE DATABASE IF NOT EXISTS fzs_outage')
  await admin.end()
  const pool = createPool({ uri: `${server.url}fzs_outage`, connectionLimit: 10, connectTimeout: TIMEOUT_MS })
  t.teardown(() => pool.end().catch(() => {}))
  await outage(t, server, new MySQLStore({ pool, table: 'outage' }))
})

for (const major of POSTGRES_MAJORS) {
  t.test(`PostgreSQL ${major}`, async t => {
    const server = await startPostgres({ major })
    t.teardown(() => server.stop())
    const pool = new pg.Pool({ connectionString: server.url, max: 10, connectionTimeoutMillis: TIMEOUT_MS, query_timeout: TIMEOUT_MS })
    pool.on('error', () => {})
    t.teardown(() => pool.end().catch(() => {}))
    await outage(t, server, new PostgresStore({ pool, table: 'outage' }))
  })
}

t.test('memcached', async t => {
  const server = await startMemcached()
  t.teardown(() => server.stop())
  const store = new MemcachedStore({ servers: [new URL(server.url).host], clientOptions: { cmdTimeout: TIMEOUT_MS, connectTimeout: TIMEOUT_MS } })
  t.teardown(() => store.close())
  await outage(t, server, store)
})
