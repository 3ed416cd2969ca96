// Encryption at rest on every store, checked where the data rests: each backend read directly (files,
// every Redis key, every SQL row, every memcached item, the MongoDB fake's documents) holds no byte of the
// session's plaintext (data values, IP, User-Agent) after a login, writes, an update(), a key rotation
// and a regenerate; the app still reads everything back. The dump is checked to see the session too, so
// an empty dump cannot pass.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { SessionRecord, SessionStore } from '../types/index.js'
import { dataSize } from '../stores/kit/record.js'
import { resolveEncryption, type KeyRing } from '../lib/key-ring.js'
import { openRecord } from '../lib/sealed-store.js'
import { allStores } from './helpers/all-stores.js'
import { buildApp, idOf, sessionCookie, type BuildOptions } from './helpers/app.js'
import { tempDir } from './helpers/tmp.js'

t.setTimeout(600_000)
const stores = await allStores(tempDir(t))
t.teardown(async () => { for (const s of stores) await s.cleanup() })

const OLD = { id: 'k1', key: randomBytes(32) }
const NEW = { id: 'k2', key: randomBytes(32) }
const MARKERS = { a: 'alpha-plaintext-5b2d', b: 'Zoë 山田 beta-plaintext-77c0', user: 'user-plaintext-c3a9', ip: '198.51.100.203', ua: 'UA-plaintext-1e8f (X11)' }
const headers = { 'user-agent': MARKERS.ua, 'x-forwarded-for': MARKERS.ip }

async function app (t: Test, store: SessionStore, keys: Array<typeof OLD>): Promise<FastifyInstance> {
  return await buildApp(t, { store, encryption: { keys }, owner: (d: { userId?: string }) => d.userId === undefined ? undefined : 'owner-1', pruneInterval: null, fastify: { trustProxy: true } } as BuildOptions, app => {
    app.post('/write', async request => {
      request.session.set('a', MARKERS.a)
      request.session.set('b', MARKERS.b)
      request.session.set('seenAt', new Date('2021-03-04T05:06:07.000Z'))
      request.session.update('visits', (n: number) => n + 1)
      return { ok: true }
    })
    app.post('/again', async request => {
      await request.session.regenerate(['a', 'b', 'userId', 'visits', 'seenAt'])
      return { ok: true }
    })
    app.get('/all', async request => ({ a: request.session.get('a'), b: request.session.get('b'), userId: request.session.get('userId'), visits: request.session.get('visits'), seenAt: request.session.get('seenAt') }))
  })
}

for (const { name, store, dump } of stores) {
  t.test(name, async t => {
    const first = await app(t, store, [OLD])
    let cookie = sessionCookie(await first.inject({ method: 'POST', url: `/login/${MARKERS.user}`, headers })) as string
    t.ok(cookie, 'logged in')
    t.equal((await first.inject({ method: 'POST', url: '/write', headers: { ...headers, cookie } })).statusCode, 200)
    const ids = [idOf(cookie)]
    const check = async (stage: string): Promise<void> => {
      const text = await dump(ids)
      t.ok(text.includes(ids.at(-1) as string) && text.includes('fzs1.'), `${stage}: the dump holds the session, encrypted`)
      for (const [what, marker] of Object.entries(MARKERS)) t.notOk(text.includes(marker), `${stage}: no plaintext ${what} in the backend`)
    }
    await check('written under k1')
    const rotated = await app(t, store, [NEW, OLD])
    t.equal((await rotated.inject({ method: 'POST', url: '/write', headers: { ...headers, cookie } })).statusCode, 200, 'written again after the rotation')
    await check('rewritten under k2')
    const renewed = await rotated.inject({ method: 'POST', url: '/again', headers: { ...headers, cookie } })
    cookie = sessionCookie(renewed) as string
    ids.push(idOf(cookie))
    await check('regenerated')
    const only = await app(t, store, [NEW])
    const all = await only.inject({ url: '/all', headers: { ...headers, cookie } })
    t.same(all.json(), { a: MARKERS.a, b: MARKERS.b, userId: MARKERS.user, visits: 2, seenAt: '2021-03-04T05:06:07.000Z' }, 'read back whole with the new key alone')
  })
}

// the store checks maxDataBytes in sealed bytes (the writer translates the plaintext limit): the same
// measure on every backend, so the plaintext limit is exact on each of them
for (const { name, store } of stores) {
  t.test(`${name}: maxDataBytes is exact in plaintext`, async t => {
    const limited = await buildApp(t, { store, encryption: { keys: [NEW] }, maxDataBytes: 2000, pruneInterval: null } as BuildOptions, app => {
      app.post('/fill/:n', async request => {
        request.session.set('a', 'x'.repeat(Number((request.params as { n: string }).n)))
        return { ok: true }
      })
    })
    const cookie = sessionCookie(await limited.inject({ method: 'POST', url: '/login/limit' })) as string
    const raw = await store.get(idOf(cookie))
    const base = dataSize(openRecord(resolveEncryption({ keys: [NEW] }) as KeyRing, idOf(cookie), raw as SessionRecord).opened.data)
    const room = 2000 - base - Buffer.byteLength('a') - 2 // the key, and the JSON string's quotes
    const over = await limited.inject({ method: 'POST', url: `/fill/${room + 1}`, headers: { cookie } })
    t.equal(over.json().code, 'FST_SESSION_TOO_LARGE', 'one byte over: refused')
    const at = await limited.inject({ method: 'POST', url: `/fill/${room}`, headers: { cookie } })
    t.equal(at.statusCode, 200, 'exactly at the limit: saved (the store\'s sealed measure agrees with the writer\'s)')
    const grown = await limited.inject({ method: 'POST', url: '/set/b/y', headers: { cookie } })
    t.equal(grown.json().code, 'FST_SESSION_TOO_LARGE', 'full: one more key refused')
  })
}
