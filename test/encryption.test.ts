// Encryption at rest (the `encryption` option) on a MemoryStore: what the store holds, key rotation, a
// ciphertext swapped, moved or under a wrong key (the corrupt-record policy: a fresh session, one
// warning, never a 5xx), values stored before encryption, maxDataBytes as plaintext, the options refused
// at ready(), and every reader of the data (list, request.sessionStore, the CLI's inspect).
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { MemoryStore } from '../stores/memory.js'
import type { SessionRecord, SessionStore } from '../types/index.js'
import { buildApp, idOf, sessionCookie, type BuildOptions } from './helpers/app.js'
import { KeyRing, resolveEncryption } from '../lib/key-ring.js'

const KEY_A = { id: 'a', key: randomBytes(32).toString('base64') }
const KEY_B = { id: 'b', key: randomBytes(32).toString('hex') }
const KEY_C = { id: 'c', key: randomBytes(32) }
const SECRET_TEXT = 'Zoë the plaintext marker 4f1c'
const UA = 'Mozilla/5.0 (the user agent marker 9d2e)'
const IP = '203.0.113.77'

async function app (t: Test, store: SessionStore, options: BuildOptions = {}, routes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  return await buildApp(t, { store, encryption: { keys: [KEY_A] }, owner: (data: { userId?: string }) => data.userId, pruneInterval: null, ...options } as BuildOptions, app => {
    routes?.(app)
    app.get('/whole', async request => ({ userId: request.session.get('userId') ?? null, a: request.session.get('a') ?? null, b: request.session.get('b') ?? null, seenAt: request.session.get('seenAt') ?? null, visits: request.session.get('visits') }))
    app.post('/note', async request => {
      request.session.set('a', SECRET_TEXT)
      request.session.set('seenAt', new Date('2020-02-02T02:02:02.000Z'))
      return { ok: true }
    })
    app.get('/store-view/:id', async request => await request.sessionStore.get((request.params as { id: string }).id))
  })
}

const headers = { 'user-agent': UA, 'x-forwarded-for': IP }

/** logged in as `user` with the marker and a date stored: the cookie pair and the session id */
async function login (app: FastifyInstance, user = 'alice'): Promise<{ cookie: string, id: string }> {
  const res = await app.inject({ method: 'POST', url: `/login/${user}`, headers })
  const cookie = sessionCookie(res) as string
  const noted = await app.inject({ method: 'POST', url: '/note', headers: { ...headers, cookie } })
  return { cookie: sessionCookie(noted) ?? cookie, id: idOf(cookie) }
}

t.test('the store holds ciphertext only; the app reads its data back, Dates included', async t => {
  const store = new MemoryStore()
  const a = await app(t, store, { fastify: { trustProxy: true } })
  const { cookie, id } = await login(a)
  const raw = await store.get(id) as SessionRecord
  const dump = JSON.stringify(raw)
  for (const plain of [SECRET_TEXT, UA, IP, '2020-02-02']) t.notOk(dump.includes(plain), `the store holds no "${plain}"`)
  for (const value of Object.values(raw.data)) t.match(value, /^fzs1\.a\.[A-Za-z0-9_-]+$/, 'each value is an envelope under key a')
  t.same(Object.keys(raw.data).sort(), ['a', 'cart', 'seenAt', 'userId', 'visits'], 'keys stay readable: per-key patches merge in the store')
  t.match(raw.meta.ip, /^fzs1\.a\./)
  t.match(raw.meta.userAgent, /^fzs1\.a\./)
  t.equal(raw.meta.owner, 'alice', 'the owner stays readable: the store indexes it')
  const read = await a.inject({ url: '/whole', headers: { ...headers, cookie } })
  t.same(read.json(), { userId: 'alice', a: SECRET_TEXT, b: null, seenAt: '2020-02-02T02:02:02.000Z', visits: 0 })
  const [listed] = await a.sessions.list('alice')
  t.equal(listed.ip, IP, 'sessions.list() shows the IP decrypted')
  t.equal(listed.userAgent, UA)
  const view = await a.inject({ url: `/store-view/${id}`, headers: { ...headers, cookie } })
  t.equal(view.json().a, SECRET_TEXT, 'request.sessionStore.get() hands out plaintext')
})

t.test('two requests writing different keys at once both land (encrypted patches are conditional, and retry)', async t => {
  const store = new MemoryStore()
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  let arrived = 0
  let bothIn!: () => void
  const both = new Promise<void>(resolve => { bothIn = resolve })
  const a = await app(t, store, {}, app => {
    app.post('/gated/:key', async request => {
      request.session.set((request.params as { key: 'a' | 'b' }).key, SECRET_TEXT)
      if (++arrived === 2) bothIn()
      await gate
      return { ok: true }
    })
  })
  const { cookie, id } = await login(a)
  const first = a.inject({ method: 'POST', url: '/gated/a', headers: { cookie } })
  const second = a.inject({ method: 'POST', url: '/gated/b', headers: { cookie } })
  await both
  release()
  t.same([(await first).statusCode, (await second).statusCode], [200, 200])
  const raw = await store.get(id) as SessionRecord
  t.ok(typeof raw.data.a === 'string' && typeof raw.data.b === 'string', 'both keys stored')
  t.same((await a.inject({ url: '/whole', headers: { cookie } })).json().b, SECRET_TEXT)
  t.notOk(JSON.stringify(raw).includes(SECRET_TEXT))
})

t.test('key rotation: sessions written under the old key are read, and sealed again with the new key at their next write', async t => {
  const store = new MemoryStore()
  const before = await app(t, store)
  const { cookie, id } = await login(before)
  const after = await app(t, store, { encryption: { keys: [KEY_B, KEY_A] } } as BuildOptions)
  const read = await after.inject({ url: '/whole', headers: { cookie } })
  t.same(read.json().a, SECRET_TEXT, 'read under the old key')
  const raw1 = await store.get(id) as SessionRecord
  t.match(raw1.data.a, /^fzs1\.a\./, 'a read-only request rewrites nothing')
  const written = await after.inject({ method: 'POST', url: '/set/b/hello', headers: { cookie } })
  t.equal(written.statusCode, 200)
  const raw2 = await store.get(id) as SessionRecord
  for (const [key, value] of Object.entries(raw2.data)) t.match(value, /^fzs1\.b\./, `data.${key} is under the new key`)
  t.match(raw2.meta.ip, /^fzs1\.b\./, 'so are the IP and User-Agent')
  t.match(raw2.meta.userAgent, /^fzs1\.b\./)
  const only = await app(t, store, { encryption: { keys: [KEY_B] } } as BuildOptions)
  t.same((await only.inject({ url: '/whole', headers: { cookie } })).json().a, SECRET_TEXT, 'the old key can be dropped once every session was written again')
})

/** warnings the app logged, and an app on `store` with `keys` that collects them */
async function loggingApp (t: Test, store: SessionStore, options: BuildOptions): Promise<{ app: FastifyInstance, warnings: string[] }> {
  const warnings: string[] = []
  const stream = { write: (line: string) => { const entry = JSON.parse(line) as { level: number, msg: string }; if (entry.level === 40) warnings.push(entry.msg) } }
  const a = await app(t, store, { ...options, fastify: { logger: { level: 'warn', stream } } } as BuildOptions)
  return { app: a, warnings }
}

t.test('a wrong key, a swapped or moved ciphertext, a plaintext value: a fresh session and one warning, never a 5xx', async t => {
  const cases: Array<[string, (store: MemoryStore, victim: string, other: string) => Promise<void>, BuildOptions?]> = [
    ['only a key the session was not written with', async () => {}, { encryption: { keys: [KEY_C] } } as BuildOptions],
    ['the same key id with other key bytes', async () => {}, { encryption: { keys: [{ id: 'a', key: randomBytes(32) }] } } as BuildOptions],
    ['two values of one session swapped', async (store, victim) => {
      const r = await store.get(victim) as SessionRecord
      await store.set(victim, { ...r, data: { ...r.data, a: r.data.userId, userId: r.data.a } })
    }],
    ['a value moved from another session', async (store, victim, other) => {
      const r = await store.get(victim) as SessionRecord
      await store.set(victim, { ...r, data: { ...r.data, userId: (await store.get(other) as SessionRecord).data.userId } })
    }],
    ['a ciphertext with one character changed', async (store, victim) => {
      const r = await store.get(victim) as SessionRecord
      const a = r.data.a as string
      await store.set(victim, { ...r, data: { ...r.data, a: a.slice(0, 30) + (a[30] === 'A' ? 'B' : 'A') + a.slice(31) } })
    }],
    ['a plaintext value (written before encryption)', async (store, victim) => {
      const r = await store.get(victim) as SessionRecord
      await store.set(victim, { ...r, data: { ...r.data, a: 'plain' } })
    }],
    ['an unknown key id', async (store, victim) => {
      const r = await store.get(victim) as SessionRecord
      await store.set(victim, { ...r, data: { ...r.data, a: (r.data.a as string).replace('fzs1.a.', 'fzs1.zz.') } })
    }],
    ['a truncated envelope', async (store, victim) => {
      const r = await store.get(victim) as SessionRecord
      await store.set(victim, { ...r, data: { ...r.data, a: 'fzs1.a.AAAA' } })
    }]
  ]
  for (const [name, spoil, options] of cases) {
    await t.test(name, async t => {
      const store = new MemoryStore()
      const writer = await app(t, store)
      const victim = await login(writer, 'alice')
      const other = await login(writer, 'bob')
      await spoil(store, victim.id, other.id)
      const { app: reader, warnings } = await loggingApp(t, store, options ?? {})
      for (let i = 0; i < 2; i++) {
        const res = await reader.inject({ url: '/whole', headers: { cookie: victim.cookie } })
        t.equal(res.statusCode, 200, 'never a 5xx')
        t.same(res.json().userId, null, 'a fresh session: nothing of the record is used')
      }
      t.equal(warnings.filter(w => w.includes('does not decrypt')).length, 1, 'one warning for the session')
    })
  }
})

t.test('the IP swapped with the User-Agent: the session stays, both read as absent, one warning (they are opened only when read)', async t => {
  const store = new MemoryStore()
  const writer = await app(t, store, { fastify: { trustProxy: true } })
  const victim = await login(writer, 'alice')
  const r = await store.get(victim.id) as SessionRecord
  await store.set(victim.id, { ...r, meta: { ...r.meta, ip: r.meta.userAgent, userAgent: r.meta.ip } })
  const { app: reader, warnings } = await loggingApp(t, store, {})
  t.same((await reader.inject({ url: '/whole', headers: { cookie: victim.cookie } })).json().userId, 'alice', 'the data is intact: the session is used')
  const [listed] = await reader.sessions.list('alice')
  t.same([listed.ip, listed.userAgent], [undefined, undefined])
  t.equal(warnings.filter(w => w.includes('does not decrypt: read as absent')).length, 1, 'one warning for the session')
})

t.test('acceptPlaintext reads sessions stored before encryption, and encrypts them at their next write', async t => {
  const store = new MemoryStore()
  const plain = await buildApp(t, { store, pruneInterval: null })
  const res = await plain.inject({ method: 'POST', url: '/login/carol', headers })
  const cookie = sessionCookie(res) as string
  const id = idOf(cookie)
  t.equal((await store.get(id) as SessionRecord).data.userId, 'carol', 'stored in the clear')
  const refusing = await app(t, store)
  t.same((await refusing.inject({ url: '/whole', headers: { cookie } })).json().userId, null, 'off by default: such a session is not trusted')
  const accepting = await app(t, store, { encryption: { keys: [KEY_A], acceptPlaintext: true } } as BuildOptions)
  t.same((await accepting.inject({ url: '/whole', headers: { cookie } })).json().userId, 'carol')
  await accepting.inject({ method: 'POST', url: '/set/b/x', headers: { cookie } })
  const raw = await store.get(id) as SessionRecord
  t.notOk(JSON.stringify(raw.data).includes('carol'), 'every value encrypted at the next write')
  for (const value of Object.values(raw.data)) t.match(value, /^fzs1\.a\./)
  t.match(raw.meta.userAgent, /^fzs1\.a\./)
})

t.test('maxDataBytes counts the plaintext, on create and on patch', async t => {
  const store = new MemoryStore()
  const a = await app(t, store, { maxDataBytes: 1000 }, app => {
    app.post('/put', async request => {
      const { key, value, login } = request.body as { key: string, value: string, login?: boolean }
      if (login === true) await request.session.regenerate()
      request.session.set(key, value)
      return { ok: true }
    })
  })
  const cookie = sessionCookie(await a.inject({ method: 'POST', url: '/login/u' })) as string
  const ok = await a.inject({ method: 'POST', url: '/put', headers: { cookie }, payload: { key: 'a', value: 'x'.repeat(900) } })
  t.equal(ok.statusCode, 200, 'plaintext under the limit is saved, though its ciphertext is over it')
  const raw = await store.get(idOf(cookie)) as SessionRecord
  t.ok(JSON.stringify(raw.data).length > 1000, `the ciphertext measures ${JSON.stringify(raw.data).length} bytes`)
  const over = await a.inject({ method: 'POST', url: '/put', headers: { cookie }, payload: { key: 'b', value: 'y'.repeat(200) } })
  t.equal(over.json().code, 'FST_SESSION_TOO_LARGE', 'plaintext over the limit once merged')
  t.same((await store.get(idOf(cookie)) as SessionRecord).data.b, undefined, 'nothing of it written')
  const huge = await a.inject({ method: 'POST', url: '/put', payload: { key: 'a', value: 'z'.repeat(1200), login: true } })
  t.equal(huge.json().code, 'FST_SESSION_TOO_LARGE', 'a new session over the limit')
})

t.test('session.update() under encryption: 6 concurrent increments all count', async t => {
  const store = new MemoryStore()
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  let arrived = 0
  let allIn!: () => void
  const all = new Promise<void>(resolve => { allIn = resolve })
  const a = await app(t, store, {}, app => {
    app.post('/inc', async request => {
      request.session.update('visits', (n: number) => n + 1)
      if (++arrived === 6) allIn()
      await gate
      return { ok: true }
    })
  })
  const { cookie } = await login(a)
  const requests = Array.from({ length: 6 }, async () => await a.inject({ method: 'POST', url: '/inc', headers: { cookie } }))
  await all
  release()
  t.same((await Promise.all(requests)).map(r => r.statusCode), [200, 200, 200, 200, 200, 200])
  t.equal((await a.inject({ url: '/whole', headers: { cookie } })).json().visits, 6)
})

t.test('options that cannot work fail ready(), naming them', async t => {
  const bad: Array<[unknown, RegExp]> = [
    [{ keys: [{ id: 'a', key: randomBytes(31) }] }, /encryption\.keys\[0\]\.key.*31 bytes/],
    [{ keys: [{ id: 'a', key: randomBytes(16).toString('base64') }] }, /encryption\.keys\[0\]\.key.*not 32 bytes/],
    [{ keys: [{ id: 'a', key: 'a'.repeat(32) }] }, /encryption\.keys\[0\]\.key/],
    [{ keys: [KEY_A, { id: 'a', key: KEY_B.key }] }, /encryption\.keys\[1\]\.id.*twice/],
    [{ keys: [{ id: 'has.dot', key: KEY_A.key }] }, /encryption\.keys\[0\]\.id/],
    [{ keys: [] }, /encryption\.keys/],
    [{ keys: [KEY_A], acceptPlaintext: 'yes' }, /encryption\.acceptPlaintext/],
    ['secret', /encryption/]
  ]
  for (const [encryption, message] of bad) {
    await t.rejects(buildApp(t, { encryption } as BuildOptions), { code: 'FST_SESSION_INVALID_OPTIONS', message }, JSON.stringify(encryption))
  }
})

t.test('a sealed value opens only for its session and field, under a key of the ring', async t => {
  const ring = resolveEncryption({ keys: [KEY_A] }) as KeyRing
  const sealed = ring.seal({ when: new Date(0), list: [1, 'two'] }, 'id1\nd\nk')
  t.same(ring.open(sealed, 'id1\nd\nk'), { value: { when: new Date(0), list: [1, 'two'] }, stale: false })
  t.throws(() => ring.open(sealed, 'id2\nd\nk'))
  t.throws(() => ring.open(sealed, 'id1\nd\nj'))
  t.not(ring.seal('same', 'x'), ring.seal('same', 'x'), 'a fresh IV for every value')
  const newer = resolveEncryption({ keys: [KEY_B, KEY_A] }) as KeyRing
  t.same(newer.open(sealed, 'id1\nd\nk').stale, true, 'under an older key: stale')
})
