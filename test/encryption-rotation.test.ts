// Encryption key rotation: values read under an older key are sealed again under the first one at the
// session's next write or touch, read again from the store (never a request's copies), and a record
// replaced meanwhile is not resealed from its predecessor.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { buildApp, sessionCookie, idOf, type BuildOptions } from './helpers/app.js'
import type { SessionRecord } from '../types/index.js'
import { MemoryStore } from '../lib/index.js'
import { KeyRing, resolveEncryption } from '../lib/key-ring.js'

const KEY_A = { id: 'a', key: randomBytes(32).toString('base64') }
const KEY_B = { id: 'b', key: randomBytes(32).toString('base64') }

function gate (): { wait: Promise<void>, open: () => void } {
  let open!: () => void
  const wait = new Promise<void>(resolve => { open = resolve })
  return { wait, open }
}

t.test('resealing writes the values as stored: a failed request\'s in-place change is never saved by another request\'s reseal', async t => {
  const store = new MemoryStore()
  const before = await buildApp(t, { store, encryption: { keys: [KEY_A] } } as BuildOptions, app => {
    app.post('/prefs', async request => { request.session.set('prefs' as never, { theme: 'light' } as never); return { ok: true } })
  })
  const cookie = sessionCookie(await before.inject({ method: 'POST', url: '/login/alice' }))!
  await before.inject({ method: 'POST', url: '/prefs', headers: { cookie } })
  const id = idOf(cookie)
  const r2In = gate()
  const r2Go = gate()
  const after = await buildApp(t, { store, encryption: { keys: [KEY_B, KEY_A] } } as BuildOptions, app => {
    app.post('/slow-write', async request => {
      request.session.set('a', 'from r2')
      r2In.open()
      await r2Go.wait
      return { ok: true }
    })
    app.post('/fail', async request => {
      const prefs = request.session.get('prefs' as never) as { theme: string }
      prefs.theme = 'dark' // an in-place change, then the request fails: nothing of it may be saved
      throw new Error('boom')
    })
  })
  const r2 = after.inject({ method: 'POST', url: '/slow-write', headers: { cookie } })
  await r2In.wait
  const r1 = await after.inject({ method: 'POST', url: '/fail', headers: { cookie } })
  t.equal(r1.statusCode, 500)
  r2Go.open()
  t.equal((await r2).statusCode, 200)
  const ring = resolveEncryption({ keys: [KEY_B, KEY_A] }) as KeyRing
  const raw = await store.get(id) as SessionRecord
  const prefs = ring.open(raw.data.prefs, `${id}\nd\nprefs`).value as { theme: string }
  t.equal(prefs.theme, 'light', 'the failed request\'s change is not in the store')
})

t.test('regenerate() keeping its id (idGenerator) then a second save: the pre-regenerate data never comes back', async t => {
  const store = new MemoryStore()
  const FIXED = 'fixed-session-id-0001'
  const idGenerator = (): string => FIXED
  const before = await buildApp(t, { store, idGenerator, encryption: { keys: [KEY_A] } } as BuildOptions)
  const cookie = sessionCookie(await before.inject({ method: 'POST', url: '/login/alice' }))!
  t.equal(idOf(cookie), FIXED)
  const after = await buildApp(t, { store, idGenerator, encryption: { keys: [KEY_B, KEY_A] } } as BuildOptions, app => {
    app.post('/relogin', async request => {
      await request.session.regenerate()
      request.session.set('userId', 'bob')
      await request.session.save()
      request.session.set('a', 'later')
      return { ok: true }
    })
  })
  const res = await after.inject({ method: 'POST', url: '/relogin', headers: { cookie } })
  t.equal(res.statusCode, 200)
  const c2 = sessionCookie(res) ?? cookie
  t.equal((await after.inject({ url: '/read', headers: { cookie: c2 } })).json().userId, 'bob', 'the regenerated session is bob\'s, not alice\'s')
})

t.test('key rotation race: two requests read under the old key write different keys at once; all land under the new key', async t => {
  const store = new MemoryStore()
  const before = await buildApp(t, { store, encryption: { keys: [KEY_A] } } as BuildOptions)
  const cookie = sessionCookie(await before.inject({ method: 'POST', url: '/login/alice' }))!
  const id = idOf(cookie)
  let arrived = 0
  const both = gate()
  const go = gate()
  const after = await buildApp(t, { store, encryption: { keys: [KEY_B, KEY_A] } } as BuildOptions, app => {
    app.post('/g/:k', async request => {
      request.session.set((request.params as { k: 'a' | 'b' }).k, 'v-' + (request.params as { k: string }).k)
      if (++arrived === 2) both.open()
      await go.wait
      return { ok: true }
    })
  })
  const p = [after.inject({ method: 'POST', url: '/g/a', headers: { cookie } }), after.inject({ method: 'POST', url: '/g/b', headers: { cookie } })]
  await both.wait
  go.open()
  t.same((await Promise.all(p)).map(r => r.statusCode), [200, 200])
  const raw = await store.get(id) as SessionRecord
  for (const [k, v] of Object.entries(raw.data)) t.match(v, /^fzs1\.b\./, `data.${k} under the new key`)
  t.match(raw.meta.ip, /^fzs1\.b\./)
  const only = await buildApp(t, { store, encryption: { keys: [KEY_B] } } as BuildOptions, app => {
    app.get('/ab', async request => ({ a: request.session.get('a'), b: request.session.get('b'), userId: request.session.get('userId') }))
  })
  t.same((await only.inject({ url: '/ab', headers: { cookie } })).json(), { a: 'v-a', b: 'v-b', userId: 'alice' })
})

t.test('touches reseal too: after idleTimeout (absoluteTimeout null) every live session is under the new key', async t => {
  const store = new MemoryStore()
  const life = { idleTimeout: 1, absoluteTimeout: null, touchAfter: 0.2 }
  const before = await buildApp(t, { store, ...life, encryption: { keys: [KEY_A] } } as BuildOptions)
  const cookie = sessionCookie(await before.inject({ method: 'POST', url: '/login/alice' }))!
  const after = await buildApp(t, { store, ...life, encryption: { keys: [KEY_B, KEY_A] } } as BuildOptions)
  for (let i = 0; i < 6; i++) {
    await new Promise(resolve => setTimeout(resolve, 400))
    t.equal((await after.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice')
  }
  const raw = await store.get(idOf(cookie)) as SessionRecord
  t.match(raw.data.userId, /^fzs1\.b\./, 'still live after 2.4 s > idleTimeout: re-sealed')
  const only = await buildApp(t, { store, ...life, encryption: { keys: [KEY_B] } } as BuildOptions)
  t.equal((await only.inject({ url: '/read', headers: { cookie } })).json().userId, 'alice', 'the old key dropped after idleTimeout: still logged in')
})
