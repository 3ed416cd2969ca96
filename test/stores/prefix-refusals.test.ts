// A `prefix` its backend cannot hold as it is fails when the store is made (or, in a storage URL, when
// the plugin registers: FST_SESSION_INVALID_OPTIONS), naming it, instead of failing every query (a NUL
// in PostgreSQL: "invalid byte sequence"; in a MongoDB $regex: "embedded null byte"), overflowing a
// key (MySQL's VARCHAR(255) id, PostgreSQL's 2,704-byte index entry, a 255-byte file name, a 250-byte
// memcached key), or naming another prefix's keys (UTF-8 writes every lone surrogate as U+FFFD; MySQL's
// utf8mb4_bin ignores trailing spaces). Only the constructors run: the drivers' pools connect lazily.
import t from 'tap'
import Fastify from 'fastify'
import { z } from 'zod'
import pg from 'pg'
import { createPool } from 'mysql2/promise'
import { MongoClient } from 'mongodb'
import fastifyZodSession from '../../lib/index.js'
import { PostgresStore } from '../../stores/postgres.js'
import { MySQLStore } from '../../stores/mysql.js'
import { MongoStore } from '../../stores/mongodb.js'
import { DirectoryStore } from '../../stores/directory.js'
import { MemcachedStore } from '../../stores/memcached.js'
import { SECRET } from '../helpers/app.js'
import { tempDir } from '../helpers/tmp.js'

const pgPool = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none' })
const mysqlPool = createPool({ host: '127.0.0.1', port: 1 })
const mongo = new MongoClient('mongodb://127.0.0.1:1', { serverSelectionTimeoutMS: 10 })
t.teardown(async () => { await pgPool.end(); await mysqlPool.end(); await mongo.close() })

const stores = {
  PostgresStore: (prefix: string) => new PostgresStore({ pool: pgPool, prefix }),
  MySQLStore: (prefix: string) => new MySQLStore({ pool: mysqlPool, prefix }),
  MongoStore: (prefix: string) => new MongoStore({ client: mongo as never, prefix })
}

for (const [name, make] of Object.entries(stores)) {
  t.test(name, async t => {
    for (const prefix of ['\udc00P:', 'p\ud800', 'a\udfffb:']) {
      t.throws(() => make(prefix), { name: 'TypeError', message: new RegExp(`^${name}: \`prefix\` .*lone surrogate`) }, JSON.stringify(prefix))
    }
    t.throws(() => make(5 as unknown as string), { name: 'TypeError', message: `${name}: \`prefix\` must be a string` })
    for (const prefix of ['', 'app:', 'é😀:', ' app:']) t.doesNotThrow(() => make(prefix), `${JSON.stringify(prefix)} is kept`)
  })
}

t.test('a NUL: PostgreSQL cannot store it, MongoDB\'s $regex cannot match it; MySQL keeps it', async t => {
  t.throws(() => stores.PostgresStore('a\0b:'), { name: 'TypeError', message: /^PostgresStore: `prefix` .*NUL/ })
  t.throws(() => stores.MongoStore('a\0b:'), { name: 'TypeError', message: /^MongoStore: `prefix` .*NUL/ })
  t.doesNotThrow(() => stores.MySQLStore('a\0b:'))
})

t.test('MySQL: the prefix leaves the VARCHAR(255) id room for a 128-character session id, counted in characters; no trailing space', async t => {
  t.doesNotThrow(() => stores.MySQLStore('p'.repeat(127)))
  t.doesNotThrow(() => stores.MySQLStore('😀'.repeat(127)), 'an astral character is one character to MySQL (two UTF-16 units)')
  t.throws(() => stores.MySQLStore('p'.repeat(128)), { name: 'TypeError', message: /^MySQLStore: `prefix` is longer than 127 characters/ })
  // utf8mb4_bin is PAD SPACE: 'app ' = 'app', so the two stores would list, count and revoke each other's sessions
  t.throws(() => stores.MySQLStore('app '), { name: 'TypeError', message: /^MySQLStore: `prefix` "app " ends with a space/ })
  t.doesNotThrow(() => stores.PostgresStore('app '), 'PostgreSQL compares with COLLATE "C": a trailing space counts')
})

t.test('PostgreSQL: the id\'s index entry (at most 2,704 bytes) keeps room for a session id: a prefix of at most 2,048 bytes', async t => {
  t.doesNotThrow(() => stores.PostgresStore('p'.repeat(2048)))
  t.throws(() => stores.PostgresStore('é'.repeat(1025)), { name: 'TypeError', message: /^PostgresStore: `prefix` is longer than 2048 bytes/ })
})

t.test('DirectoryStore: a write\'s temporary file name stays within 255 bytes', async t => {
  const path = await tempDir(t)
  t.doesNotThrow(() => new DirectoryStore({ path, prefix: 'p'.repeat(100) }))
  t.throws(() => new DirectoryStore({ path, prefix: 'p'.repeat(101) }), { name: 'TypeError', message: /at most 100 characters/ })
})

t.test('MemcachedStore: the prefix and each key are measured in bytes, as memcached counts them', async t => {
  t.throws(() => new MemcachedStore({ servers: ['127.0.0.1:1'], prefix: '中'.repeat(100) }), { name: 'TypeError', message: /at most 200 bytes/ })
  t.throws(() => new MemcachedStore({ servers: ['127.0.0.1:1'], prefix: 'p\ud800:' }), { name: 'TypeError', message: /lone surrogate/ }, 'UTF-8 keys: the rule every backend but memory shares')
  const store = new MemcachedStore({ servers: ['127.0.0.1:1'], prefix: '中'.repeat(60) })
  t.teardown(() => store.close())
  await t.rejects(store.get('x'.repeat(80)), { name: 'TypeError', message: /1-250 bytes/ }, '180 + 80 bytes: refused before it is sent')
})

t.test('in a storage URL, the same rules are an option error at registration, before a connection is made', async t => {
  for (const url of ['postgres://db/app?prefix=a%00b', 'mysql://db/app?prefix=app%20', 'mongodb://db/app?prefix=a%00b', 'redis://cache?prefix=a%ED%A0%80']) {
    const app = Fastify()
    app.register(fastifyZodSession, { secret: SECRET, schema: z.object({}), store: url })
    await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_INVALID_OPTIONS', message: /query parameter prefix/ }, url)
    await app.close()
  }
})
