import t from 'tap'
import { MongoStore } from '../../stores/mongodb.js'
import { conformance } from './conformance.js'
import { FakeSessionCollection } from '../helpers/fake-mongo.js'
import { buildApp, sessionCookie } from '../helpers/app.js'

// MongoDB has no Debian package and its npm helpers download server binaries at run time, which
// this machine cannot. So: the conformance suite on a real server when MONGODB_URL is set, and
// always on the in-process fake of the few Collection methods the store calls.
const url = process.env.MONGODB_URL

if (url === undefined) {
  t.comment('MongoDB integration test NOT RUN: set MONGODB_URL=mongodb://host:port/db to run the conformance suite on a real server')
} else {
  t.test('conformance on a real MongoDB (MONGODB_URL)', async t => {
    const { MongoClient } = await import('mongodb')
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 })
    await client.connect()
    const collection = `sessions_${process.pid}_${Date.now()}`
    t.teardown(async () => { await client.db().collection(collection).drop().catch(() => {}); await client.close() })
    conformance(t, { create: async ({ prefix }) => new MongoStore({ client, collection, prefix }), prune: true })
  })
}

t.test('conformance on the in-process fake collection', async t => {
  const collection = new FakeSessionCollection()
  conformance(t, {
    create: async ({ prefix }) => new MongoStore({ collection, prefix }),
    prune: true,
    corruptions: { 'auth of the wrong type': async ({ prefix, id }) => { await collection.updateOne({ _id: prefix + id }, { $set: { auth: 5 } }) } }
  })
})

t.test('a TTL index on expires (expireAfterSeconds 0) and an owner index are created on first use', async t => {
  const collection = new FakeSessionCollection()
  const store = new MongoStore({ collection })
  await store.get('x')
  await store.get('y')
  t.same(collection.indexes, [
    { spec: { expires: 1 }, options: { expireAfterSeconds: 0, name: 'session_expires_ttl' } },
    { spec: { owner: 1 }, options: { name: 'session_owner' } }
  ], 'created once')
})

t.test('documents: _id, data with native Dates, expires as a Date for the TTL index, the prefix that wrote it', async t => {
  const collection = new FakeSessionCollection()
  const store = new MongoStore({ collection, prefix: 'p:' })
  const expiresAt = Date.now() + 60_000
  await store.set('a', { data: { when: new Date(5) }, createdAt: 1, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: { owner: 'o' } })
  const doc = collection.docs.get('p:a')!
  t.ok(doc.expires instanceof Date)
  t.equal((doc.expires as Date).getTime(), expiresAt)
  t.ok((doc.data as { when: unknown }).when instanceof Date)
  t.equal(doc.owner, 'o')
  await store.patch('a', { set: { n: 1 }, unset: ['when'], expiresAt: null, meta: { owner: undefined } })
  t.same(collection.docs.get('p:a'), { _id: 'p:a', data: { n: 1 }, createdAt: 1, expires: null, version: 1, auth: { current: ['h'], replaced: [] }, meta: {}, prefix: 'p:' })
})

t.test('keys MongoDB cannot hold in an update path are refused clearly', async t => {
  const store = new MongoStore({ collection: new FakeSessionCollection() })
  await t.rejects(store.set('a', { data: { 'a.b': 1 }, createdAt: 1, expiresAt: null, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} }), TypeError)
  await t.rejects(store.patch('a', { set: { $where: 1 }, unset: [], expiresAt: null }), TypeError)
})

t.test('through the plugin, on the fake', async t => {
  const store = new MongoStore({ collection: new FakeSessionCollection() })
  const app = await buildApp(t, { store, owner: ((d: { userId?: string }) => d.userId) as never })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  await app.inject({ method: 'POST', url: '/set/a/x', headers: { cookie } })
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice')
  t.equal((await app.sessions.list('alice')).length, 1)
})

t.test('bad options are a TypeError', async t => {
  t.throws(() => new MongoStore({} as never), TypeError)
  t.throws(() => new MongoStore({ client: {} as never }), TypeError)
})
