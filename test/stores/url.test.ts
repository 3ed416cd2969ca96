import t, { type Test } from 'tap'
import { inspect } from 'node:util'
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { createPool } from 'mysql2/promise'
import { z } from 'zod'
import fc from 'fast-check'
import fastifyZodSession from '../../lib/index.js'
import { parseStoreUrl, redactUrl, StoreUrlError } from '../../stores/url/parse.js'
import { scrub } from '../../stores/url/open.js'
import { SECRET, sessionCookie } from '../helpers/app.js'
import { startMariaDB, startMemcached, startRedis, startRedisCluster } from '../helpers/servers.js'
import { postgresPids, startPostgres } from '../helpers/pg-server.mjs'
import pg from 'pg'
import { tempDir } from '../helpers/tmp.js'

// Parsing, redaction and errors of store URLs

const parts = (url: string): Record<string, unknown> => {
  const { kind, hosts, database, username, password, tls, params, path } = parseStoreUrl(url)
  return { kind, hosts, database, username, password, tls, params, path }
}

t.test('every scheme parses, with documented defaults for omitted parts', async t => {
  t.match(parts('memory://'), { kind: 'memory', hosts: [] })
  t.match(parts('memory://?maxEntries=500'), { kind: 'memory', params: { maxEntries: '500' } })
  t.match(parts('file:///var/lib/app/sessions.db'), { kind: 'file', path: '/var/lib/app/sessions.db' })
  t.match(parts('file://./data/sessions.db?fsync=true'), { kind: 'file', path: './data/sessions.db', params: { fsync: 'true' } })
  t.match(parts('dir:///var/lib/app/sessions'), { kind: 'dir', path: '/var/lib/app/sessions' })
  t.match(parts('dir:///tmp/with%20space'), { path: '/tmp/with space' })
  t.match(parts('redis://localhost'), { kind: 'redis', hosts: [{ host: 'localhost', port: 6379 }], database: undefined, tls: false })
  t.match(parts('redis://:s3cret@cache:6380/2'), { hosts: [{ host: 'cache', port: 6380 }], password: 's3cret', username: undefined, database: '2' })
  t.match(parts('redis://app:p%40ss@cache'), { username: 'app', password: 'p@ss' })
  t.match(parts('rediss://cache.example.com'), { kind: 'redis', tls: true })
  t.match(parts('redis://[::1]:7000'), { hosts: [{ host: '::1', port: 7000 }] })
  t.match(parts('redis+cluster://h1:7000,h2:7001,h3'), { kind: 'redis-cluster', hosts: [{ host: 'h1', port: 7000 }, { host: 'h2', port: 7001 }, { host: 'h3', port: 6379 }] })
  t.match(parts('mysql://app:pw@db/appdb?table=web_sessions&createTable=false'), {
    kind: 'mysql', hosts: [{ host: 'db', port: 3306 }], username: 'app', password: 'pw', database: 'appdb', params: { table: 'web_sessions', createTable: 'false' }
  })
  t.match(parts('postgres://app:pw@db/appdb?table=web.sessions&unlogged=true&statementTimeout=500'), {
    kind: 'postgres', hosts: [{ host: 'db', port: 5432 }], username: 'app', password: 'pw', database: 'appdb', params: { table: 'web.sessions', unlogged: 'true', statementTimeout: '500' }
  })
  t.match(parts('postgresql://db:6543/appdb'), { kind: 'postgres', hosts: [{ host: 'db', port: 6543 }] })
  t.match(parts('mongodb://m1,m2:27018/app?replicaSet=rs0&collection=web'), {
    kind: 'mongodb', hosts: [{ host: 'm1', port: 27017 }, { host: 'm2', port: 27018 }], database: 'app', params: { collection: 'web' }
  })
  t.equal(parseStoreUrl('mongodb://m1/app?replicaSet=rs0&collection=web').driverUrl, 'mongodb://m1/app?replicaSet=rs0', 'our parameters are not passed to the driver')
  t.match(parts('mongodb+srv://u:p@cluster0.example.net/app'), { kind: 'mongodb', database: 'app' })
  t.match(parts('memcached://m1:11211,m2'), { kind: 'memcached', hosts: [{ host: 'm1', port: 11211 }, { host: 'm2', port: 11211 }] })
})

t.test('a bad URL names the offending part', async t => {
  const cases: Array<[string, RegExp]> = [
    ['cassandra://db/app', /^scheme "cassandra:\/\/" is not supported/],
    ['postgres://db', /^database is missing: postgres:\/\/user:password@host\[:port\]\/database/],
    ['postgres://db/app?schema=x', /^query parameter "schema" is not known for postgres:\/\/ \(known: table, createTable, unlogged/],
    ['redis:/localhost', /^URL must look like/],
    ['redis://', /^host is missing/],
    ['redis://cache:99999', /^port "99999" of cache is not a port number/],
    ['redis://cache:abc', /^port "abc"/],
    ['redis://cache/zero', /^database "zero" is not a redis database number/],
    ['redis://a,b', /^host takes one host/],
    ['mysql://root@db', /^database is missing/],
    ['file://', /^path is missing/],
    ['dir:///', /^path is missing/],
    ['memory://somewhere', /^host must be empty/],
    ['redis://cache?tls=yes', /^query parameter "tls" is not known for redis:\/\/ \(known: prefix, layout, connectTimeout, commandTimeout\)/],
    ['memcached://user@m1', /^username is not supported/],
    ['redis://:%zz@cache', /^password is not valid percent-encoding/],
    ['postgres://db/app?max=0', /^query parameter max must be a positive integer \(got "0"\)/],
    ['mysql://db/app?queryTimeout=1.5', /^query parameter queryTimeout must be a positive integer/],
    ['memory://?maxEntries=', /^query parameter maxEntries must be a positive integer \(got ""\)/],
    ['redis://cache?commandTimeout=-1', /^query parameter commandTimeout must be a positive integer/],
    ['redis://cache?layout=wide', /^query parameter layout must be 'packed' or 'fields', not "wide"/]
  ]
  for (const [url, expected] of cases) {
    const err = (() => { try { parseStoreUrl(url) } catch (e) { return e } })() as StoreUrlError
    t.type(err, StoreUrlError, url)
    t.match(err.message, expected, url)
  }
})

t.test('redaction: the password never survives into the redacted URL or a parse error', async t => {
  // 9+ characters: long enough never to be a substring of the rest of the URL
  fc.assert(fc.property(fc.string({ minLength: 9, maxLength: 30 }), fc.constantFrom('redis', 'rediss', 'mysql', 'mongodb'), fc.boolean(), (pw, scheme, broken) => {
    const encoded = encodeURIComponent(pw)
    const url = `${scheme}://user:${encoded}@host:${broken ? 'notaport' : '1'}/0`
    if (redactUrl(url).includes(encoded)) return false
    try {
      parseStoreUrl(url)
      return !broken
    } catch (err) {
      return broken && !(err as Error).message.includes(encoded) && !(err as Error).message.includes(pw)
    }
  }), { numRuns: 2000 })
  t.equal(redactUrl('redis://:hunter22@cache:6379/0'), 'redis://:***@cache:6379/0')
  t.equal(redactUrl('mysql://app:hunter22@db/app'), 'mysql://app:***@db/app')
  t.equal(redactUrl('redis://cache'), 'redis://cache', 'nothing to hide')
})

t.test('the plugin reports a bad URL at ready() as FST_SESSION_INVALID_OPTIONS naming the part, without the password', async t => {
  const app = Fastify()
  app.register(fastifyZodSession, { secret: SECRET, schema: z.object({}), store: 'redis://:hunter22@cache:70000' })
  const err = await app.ready().then(() => null, (e: Error & { code?: string }) => e)
  t.equal(err?.code, 'FST_SESSION_INVALID_OPTIONS')
  t.match(err?.message, /option "store": redis:\/\/:\*\*\*@cache:70000: port "70000" of cache is not a port number/)
  t.notMatch(err?.message, /hunter22/)
  await app.close()
  const pool = Fastify()
  pool.register(fastifyZodSession, { secret: SECRET, schema: z.object({}), store: 'postgres://db/app?max=0' })
  await t.rejects(async () => { await pool.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message: /option "store": postgres:\/\/db\/app\?max=0: query parameter max must be a positive integer/ }, 'a bad number is an option error, not an unavailable store')
  await pool.close()
})

t.test('a store that is neither an object nor a string is refused', async t => {
  const app = Fastify()
  app.register(fastifyZodSession, { secret: SECRET, schema: z.object({}), store: 42 as never })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message: /SessionStore object or a storage URL/ })
  await app.close()
})

t.test('a driver error is scrubbed of the password, raw and decoded, in message, stack and cause', async t => {
  const url = parseStoreUrl('mongodb://app:p%40ss-w0rd@db/app')
  t.same(url.secrets, ['p%40ss-w0rd', 'p@ss-w0rd'])
  const cause = new Error('auth failed for p@ss-w0rd')
  const err = scrub(new Error('cannot reach mongodb://app:p%40ss-w0rd@db/app', { cause }), url)
  t.equal(err.message, 'cannot reach mongodb://app:***@db/app')
  t.notMatch(err.stack, /p%40ss-w0rd|p@ss-w0rd/)
  t.equal((err.cause as Error).message, 'auth failed for ***')
  t.notMatch((err.cause as Error).stack, /p@ss-w0rd/)
  t.same(parseStoreUrl('redis://cache').secrets, [], 'nothing to hide without a password')
})

// Every store opened by URL on its real backend

const Schema = z.object({ user: z.string().optional() })

async function app (store: string): Promise<FastifyInstance> {
  const fastify = Fastify()
  await fastify.register(fastifyZodSession, { secret: SECRET, schema: Schema, store })
  fastify.post('/login', async request => { request.session.set('user', 'ada'); return 'ok' })
  fastify.get('/me', async request => ({ user: request.session.get('user') ?? null }))
  await fastify.ready()
  return fastify
}

/** Logs in on one app, reads the session back from a second app on the same URL: the data really is in the backend. */
async function roundTrip (t: Test, store: string): Promise<void> {
  const first = await app(store)
  const cookie = sessionCookie(await first.inject({ method: 'POST', url: '/login' }))
  t.ok(cookie, 'a session cookie was set')
  await first.close()
  const second = await app(store)
  const res = await second.inject({ url: '/me', headers: { cookie } })
  t.same(res.json(), { user: 'ada' }, 'a second app on the same URL reads the session')
  await second.close()
}

t.test('memory://, file:// and dir:// URLs', async t => {
  const dir = tempDir(t)
  const memory = await app('memory://?maxEntries=100')
  const cookie = sessionCookie(await memory.inject({ method: 'POST', url: '/login' }))
  t.same((await memory.inject({ url: '/me', headers: { cookie } })).json(), { user: 'ada' })
  await memory.close()
  await roundTrip(t, `file://${join(dir, 'sessions.db')}`)
  t.ok(existsSync(join(dir, 'sessions.db')))
  await roundTrip(t, `dir://${join(dir, 'folder')}?prefix=web-`)
  t.ok(readdirSync(join(dir, 'folder')).some(name => name.startsWith('web-') && name.endsWith('.session')))
})

t.test('redis:// with a password and a db number; the client is closed with the app', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const admin = new Redis(server.url)
  t.teardown(() => admin.quit())
  await admin.config('SET', 'requirepass', 'hunter22')
  await admin.auth('hunter22')
  await roundTrip(t, `redis://:hunter22@127.0.0.1:${server.port}/3?prefix=url:`)
  await admin.select(3)
  t.equal((await admin.keys('url:*')).length, 1, 'the session is in db 3 under the prefix')
  t.equal(await admin.hexists((await admin.keys('url:*'))[0], '_r'), 1, 'packed, the default layout')
  await roundTrip(t, `redis://:hunter22@127.0.0.1:${server.port}/3?prefix=wide:&layout=fields`)
  const [wide] = await admin.keys('wide:*')
  t.same([await admin.hexists(wide, '_r'), await admin.hexists(wide, '_c')], [0, 1], '?layout=fields writes 0.2\'s layout')
  const clients = (await admin.client('LIST') as string).trim().split('\n')
  t.equal(clients.length, 1, 'only the test\'s own connection is left')

  const bad = Fastify()
  bad.register(fastifyZodSession, { secret: SECRET, schema: Schema, store: `redis://:wrong-password@127.0.0.1:${server.port}` })
  const err = await bad.ready().then(() => null, (e: Error & { code?: string }) => e)
  t.equal(err?.code, 'FST_SESSION_STORE_UNAVAILABLE')
  t.match(err?.message, /open the store redis:\/\/:\*\*\*@127\.0\.0\.1:\d+: .*WRONGPASS/)
  t.notMatch(err?.message, /wrong-password/)
  t.notMatch(inspect(err, { depth: 10 }), /wrong-password/, 'nothing util.inspect prints carries it (the AUTH args on the cause)')
  await bad.close()
})

/**
 * SIGSTOP is what a network partition looks like to a client: the connection stays open and nothing
 * answers. URL-made clients must fail each request fast, and be fast again right after SIGCONT.
 */
/** until every thread of every process in `pids` is stopped: SIGSTOP reaches threads one by one */
async function stopped (pids: number[]): Promise<void> {
  const deadline = Date.now() + 5000
  const state = (path: string): string => { try { return readFileSync(path, 'utf8').replace(/^.*\) /s, '')[0] } catch { return 'T' } }
  const tasks = (pid: number): string[] => { try { return readdirSync(`/proc/${pid}/task`).map(task => `/proc/${pid}/task/${task}/stat`) } catch { return [] } }
  while (pids.flatMap(tasks).some(path => state(path) !== 'T')) {
    if (Date.now() > deadline) throw new Error(`processes ${pids.join(', ')} did not stop`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

async function frozenServer (t: Test, url: string, pids: () => number[]): Promise<void> {
  const fastify = await app(url)
  t.teardown(() => fastify.close())
  const cookie = sessionCookie(await fastify.inject({ method: 'POST', url: '/login' }))!
  const frozen = pids()
  for (const pid of frozen) process.kill(pid, 'SIGSTOP')
  await stopped(frozen)
  try {
    for (let i = 0; i < 3; i++) {
      const started = Date.now()
      const res = await fastify.inject({ url: '/me', headers: { cookie } })
      t.equal(res.statusCode, 503, `frozen, request ${i + 1}: 503`)
      t.ok(Date.now() - started < 2500, `frozen, request ${i + 1}: answered within the command timeout (${Date.now() - started} ms)`)
    }
  } finally {
    for (const pid of frozen) process.kill(pid, 'SIGCONT')
  }
  let res = await fastify.inject({ url: '/me', headers: { cookie } })
  for (let i = 0; i < 40 && res.statusCode !== 200; i++) {
    await new Promise(resolve => setTimeout(resolve, 100))
    res = await fastify.inject({ url: '/me', headers: { cookie } })
  }
  t.same(res.json(), { user: 'ada' }, 'after SIGCONT the session is read again')
  const started = Date.now()
  await fastify.inject({ url: '/me', headers: { cookie } })
  t.ok(Date.now() - started < 1000, 'and requests are fast again')
}

t.test('redis:// fails fast while the server is frozen, and recovers', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  t.ok(server.process?.pid, 'a server of our own to freeze')
  await frozenServer(t, `${server.url}?commandTimeout=500`, () => [server.process!.pid!])
})

t.test('mysql:// fails fast while the server is frozen, and recovers', async t => {
  const server = await startMariaDB()
  t.teardown(() => server.stop())
  const admin = createPool({ uri: server.url, connectionLimit: 1 })
  await admin.query('CREATE DATABASE IF NOT EXISTS frozen_test')
  await admin.end()
  await frozenServer(t, `mysql://root@127.0.0.1:${server.port}/frozen_test?queryTimeout=500&connectTimeout=500`, () => [server.process!.pid!])
})

t.test('postgres:// creates its table, ends its pool, and fails fast while the server is frozen', async t => {
  const server = await startPostgres()
  t.teardown(() => server.stop())
  await roundTrip(t, `postgres://postgres@127.0.0.1:${server.port}/postgres?table=web_sessions&unlogged=1`)
  const admin = new pg.Client({ connectionString: server.url })
  await admin.connect()
  t.teardown(() => admin.end())
  t.equal(Number((await admin.query('SELECT count(*) AS n FROM web_sessions')).rows[0].n), 1)
  t.equal((await admin.query("SELECT relpersistence FROM pg_class WHERE relname = 'web_sessions'")).rows[0].relpersistence, 'u', 'unlogged=1 made it UNLOGGED')
  const { rows } = await admin.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'postgres' AND pid <> pg_backend_pid() AND backend_type = 'client backend'")
  t.equal(Number(rows[0].n), 0, 'no connection of the store is left open')
  await frozenServer(t, `postgresql://postgres@127.0.0.1:${server.port}/postgres?queryTimeout=500&connectTimeout=500`, () => postgresPids(server.process!.pid!))
})

t.test('redis+cluster:// reaches a real 3-node cluster', async t => {
  const cluster = await startRedisCluster()
  t.teardown(() => cluster.stop())
  await roundTrip(t, `redis+cluster://${cluster.nodes.map(n => `${n.host}:${n.port}`).join(',')}`)
})

t.test('memcached:// over two servers', async t => {
  const [a, b] = await Promise.all([startMemcached(), startMemcached()])
  t.teardown(async () => { await a.stop(); await b.stop() })
  await roundTrip(t, `memcached://127.0.0.1:${a.port},127.0.0.1:${b.port}`)
})

t.test('mysql:// creates its table and ends its pool', async t => {
  const server = await startMariaDB()
  t.teardown(() => server.stop())
  const admin = createPool({ uri: server.url, connectionLimit: 1 })
  t.teardown(() => admin.end())
  await admin.query('CREATE DATABASE IF NOT EXISTS url_test')
  await roundTrip(t, `mysql://root@127.0.0.1:${server.port}/url_test?table=web_sessions`)
  const [rows] = await admin.query('SELECT COUNT(*) AS n FROM url_test.web_sessions') as [Array<{ n: number }>, unknown]
  t.equal(Number(rows[0].n), 1)
  // the server drops a closed connection from its list a moment after the pool has ended: ask until it has
  let open = -1
  for (const deadline = Date.now() + 10_000; open !== 0 && Date.now() < deadline; await new Promise(resolve => setTimeout(resolve, 50))) {
    const [list] = await admin.query('SHOW PROCESSLIST') as [Array<{ db: string | null }>, unknown]
    open = list.filter(p => p.db === 'url_test').length
  }
  t.equal(open, 0, 'no connection of the store is left open')
})

t.test('an unreachable server fails app.ready() with a clear, password-free error', async t => {
  const cases = [
    'mongodb://app:hunter22@127.0.0.1:1/app?serverSelectionTimeoutMS=300',
    'redis://:hunter22@127.0.0.1:1',
    'mysql://app:hunter22@127.0.0.1:1/app',
    'postgres://app:hunter22@127.0.0.1:1/app'
  ]
  for (const url of cases) {
    const fastify = Fastify()
    fastify.register(fastifyZodSession, { secret: SECRET, schema: Schema, store: url })
    const err = await fastify.ready().then(() => null, (e: Error & { code?: string }) => e)
    t.equal(err?.code, 'FST_SESSION_STORE_UNAVAILABLE', url)
    t.match(err?.message, /open the store [a-z]+:\/\/[^ ]*:\*\*\*@127\.0\.0\.1:1/, url)
    t.notMatch(err?.message, /hunter22/, url)
    await fastify.close()
  }
})

t.test('a driver that is not installed is named, with the command that installs it', async t => {
  const fixture = join(import.meta.dirname, '..', 'fixtures', 'missing-driver.ts')
  const run = async (hidden: string, url: string): Promise<{ code?: string, message?: string }> => {
    const { stdout } = await promisify(execFile)(process.execPath, [...process.execArgv, fixture, hidden, url])
    return JSON.parse(stdout.trim().split('\n').pop()!)
  }
  t.match(await run('ioredis', 'redis://127.0.0.1:1'), { code: 'FST_SESSION_STORE_UNAVAILABLE', message: /redis:\/\/ URLs need the ioredis package: npm install ioredis/ })
  t.match(await run('mysql2/promise', 'mysql://root@127.0.0.1:1/x'), { message: /npm install mysql2\b/ })
  t.match(await run('mongodb', 'mongodb://127.0.0.1:1/x'), { message: /npm install mongodb/ })
  t.match(await run('memcache-client', 'memcached://127.0.0.1:1'), { message: /npm install memcache-client/ })
})
