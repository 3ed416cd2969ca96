import t from 'tap'
import fc from 'fast-check'
import Fastify from 'fastify'
import { z } from 'zod'
import fastifyZodSession from '../lib/index.js'
import { parseStoreUrl, redactUrl, StoreUrlError } from '../stores/url/parse.js'
import { scrub } from '../stores/url/open.js'
import { SECRET } from './helpers/app.js'

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
    ['redis://cache?tls=yes', /^query parameter "tls" is not known for redis:\/\/ \(known: prefix, connectTimeout, commandTimeout\)/],
    ['memcached://user@m1', /^username is not supported/],
    ['redis://:%zz@cache', /^password is not valid percent-encoding/],
    ['postgres://db/app?max=0', /^query parameter max must be a positive integer \(got "0"\)/],
    ['mysql://db/app?queryTimeout=1.5', /^query parameter queryTimeout must be a positive integer/],
    ['memory://?maxEntries=', /^query parameter maxEntries must be a positive integer \(got ""\)/],
    ['redis://cache?commandTimeout=-1', /^query parameter commandTimeout must be a positive integer/]
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
