// A `prefix` its backend cannot hold as it is fails when the store is made, naming it, instead of
// failing every query (a NUL in PostgreSQL: "invalid byte sequence"), overflowing the key column
// (MySQL's VARCHAR(255) id), or naming another prefix's keys (UTF-8 writes every lone surrogate as
// U+FFFD). Only the constructors run: the drivers' pools and clients connect lazily.
import t from 'tap'
import pg from 'pg'
import { createPool } from 'mysql2/promise'
import { MongoClient } from 'mongodb'
import { PostgresStore } from '../../stores/postgres.js'
import { MySQLStore } from '../../stores/mysql.js'
import { MongoStore } from '../../stores/mongodb.js'

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
    for (const prefix of ['', 'app:', 'é😀:']) t.doesNotThrow(() => make(prefix), `${JSON.stringify(prefix)} is kept`)
  })
}

t.test('PostgreSQL cannot store a NUL character; MySQL and MongoDB can', async t => {
  t.throws(() => stores.PostgresStore('a\0b:'), { name: 'TypeError', message: /^PostgresStore: `prefix` .*NUL/ })
  t.doesNotThrow(() => stores.MySQLStore('a\0b:'))
  t.doesNotThrow(() => stores.MongoStore('a\0b:'))
})

t.test('MySQL: the prefix leaves room for the longest session id (128 characters) in the VARCHAR(255) id', async t => {
  t.doesNotThrow(() => stores.MySQLStore('p'.repeat(127)))
  t.throws(() => stores.MySQLStore('p'.repeat(128)), { name: 'TypeError', message: /^MySQLStore: `prefix` is longer than 127 characters/ })
})
