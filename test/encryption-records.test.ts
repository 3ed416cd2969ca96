// Encryption at rest and odd records: a malformed record (a fresh session, as without encryption), keys set
// to undefined, values that look like an envelope.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildApp, sessionCookie, idOf, type BuildOptions } from './helpers/app.js'
import type { SessionRecord, SessionStore } from '../types/index.js'
import { MemoryStore } from '../lib/index.js'

const KEY_A = { id: 'a', key: randomBytes(32).toString('base64') }

class PayloadStore extends MemoryStore {
  payload: unknown = undefined
  override async get (id: string): Promise<SessionRecord | undefined> {
    const real = await super.get(id)
    return real === undefined || this.payload === undefined ? real : this.payload as SessionRecord
  }
}

t.test('a malformed record under encryption: a fresh session (as without encryption), never a 5xx', async t => {
  const now = Date.now()
  const payloads: Array<[string, unknown]> = [
    ['data: null', { data: null, createdAt: now, expiresAt: now + 60_000, version: 0, meta: {} }],
    ['a number', 42],
    ['a string', 'garbage'],
    ['data: a string', { data: 'x', createdAt: now, expiresAt: now + 60_000, version: 0, meta: {} }]
  ]
  for (const encrypted of [false, true]) {
    for (const [name, payload] of payloads) {
      const store = new PayloadStore()
      const app = await buildApp(t, { store: store as SessionStore, ...(encrypted ? { encryption: { keys: [KEY_A] } } : {}) } as BuildOptions)
      const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
      store.payload = payload
      const res = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
      t.equal(res.statusCode, 200, `${encrypted ? 'encrypted' : 'plain'}: ${name} -> ${res.statusCode} ${res.statusCode !== 200 ? res.body : ''}`)
    }
  }
})

t.test('a key set to undefined does not make the session undecryptable', async t => {
  const store = new MemoryStore()
  const app = await buildApp(t, { store, encryption: { keys: [KEY_A] } } as BuildOptions, app => {
    app.post('/undef', async request => { request.session.set('b', undefined as never); request.session.set('a', 'x'); return { ok: true } })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  t.equal((await app.inject({ method: 'POST', url: '/undef', headers: { cookie } })).statusCode, 200)
  const raw = await store.get(idOf(cookie)) as SessionRecord
  t.comment(JSON.stringify(Object.keys(raw.data)), Object.hasOwn(raw.data, 'b'), raw.data.b)
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice')
  // a new session with an undefined key
  const app2 = await buildApp(t, { store, encryption: { keys: [KEY_A] } } as BuildOptions, app => {
    app.post('/new-undef', async request => { request.session.set('userId', 'bob'); request.session.set('b', undefined as never); return { ok: true } })
  })
  const c2 = sessionCookie(await app2.inject({ method: 'POST', url: '/new-undef' }))!
  t.equal((await app2.inject({ url: '/read', headers: { cookie: c2 } })).json().userId, 'bob')
})

t.test('a value that starts like an envelope: user data under encryption; stored before it (acceptPlaintext), a fresh session', async t => {
  const store = new MemoryStore()
  const plain = await buildApp(t, { store } as BuildOptions)
  const cookie = sessionCookie(await plain.inject({ method: 'POST', url: '/login/carol' }))!
  await plain.inject({ method: 'POST', url: '/set/a/fzs1.hello.world', headers: { cookie } })
  const accepting = await buildApp(t, { store, encryption: { keys: [KEY_A], acceptPlaintext: true } } as BuildOptions)
  const res = await accepting.inject({ url: '/read', headers: { cookie } })
  // documented: such a value is taken for an envelope that does not open (an unknown key id), so the session is corrupt
  t.same([res.statusCode, res.json().userId], [200, null], 'never a 5xx: a fresh session')
  const c2 = sessionCookie(await accepting.inject({ method: 'POST', url: '/login/dave' }))!
  await accepting.inject({ method: 'POST', url: '/set/a/fzs1.a.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', headers: { cookie: c2 } })
  t.equal((await accepting.inject({ url: '/read', headers: { cookie: c2 } })).json().userId, 'dave', 'under encryption any string is sealed, whatever it starts with')
})
