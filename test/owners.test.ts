import t from 'tap'
import { buildApp, sessionCookie } from './helpers/app.js'
import { MemoryStore, errorCodes } from '../lib/index.js'
import type { SessionStore } from '../types/index.js'
import { fakeClock } from './helpers/clock.js'

const owner = (data: { userId?: string }): string | undefined => data.userId

t.test('sessions.list(owner) and revoke(owner, { except })', async t => {
  const app = await buildApp(t, { owner: owner as never }, app => {
    app.get('/mine', async (request) => app.sessions.list(request.session.get('userId') as string))
    app.post('/logout-everywhere', async (request) => ({
      revoked: await app.sessions.revoke(request.session.get('userId') as string, { except: request.session.id })
    }))
  })
  const devices: string[] = []
  for (const ua of ['Laptop', 'Phone', 'Tablet']) {
    devices.push(sessionCookie(await app.inject({ method: 'POST', url: '/login/alice', headers: { 'user-agent': ua } }))!)
  }
  const bob = sessionCookie(await app.inject({ method: 'POST', url: '/login/bob' }))!
  const list = (await app.inject({ url: '/mine', headers: { cookie: devices[0] } })).json()
  t.equal(list.length, 3)
  t.same(list.map((s: { userAgent: string }) => s.userAgent).sort(), ['Laptop', 'Phone', 'Tablet'])
  t.notOk(list.some((s: { id: string }) => devices.some(d => JSON.stringify(s).includes(d.split('=')[1].split('.')[1]))), 'a listing never holds a cookie secret')
  t.ok(list.some((s: { id: string }) => s.id === (devices[0].split('=')[1].split('.')[0])))

  const res = await app.inject({ method: 'POST', url: '/logout-everywhere', headers: { cookie: devices[0] } })
  t.same(res.json(), { revoked: 2 })
  t.equal((await app.inject({ url: '/read', headers: { cookie: devices[0] } })).json().userId, 'alice', 'the current device stays')
  t.equal((await app.inject({ url: '/read', headers: { cookie: devices[1] } })).json().userId, null)
  t.equal((await app.inject({ url: '/read', headers: { cookie: devices[2] } })).json().userId, null)
  t.equal((await app.inject({ url: '/read', headers: { cookie: bob } })).json().userId, 'bob', 'other users untouched')
})

t.test('the owner follows the data: logging out of the account unlists the session', async t => {
  const app = await buildApp(t, { owner: owner as never }, app => {
    app.post('/forget', async (request) => { request.session.unset('userId'); return {} })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice' }))!
  t.equal((await app.sessions.list('alice')).length, 1)
  await app.inject({ method: 'POST', url: '/forget', headers: { cookie } })
  t.equal((await app.sessions.list('alice')).length, 0)
})

t.test('without the owner option, or on a store without owner listing, a clear FST code', async t => {
  const plain = await buildApp(t)
  await t.rejects(plain.sessions.list('alice'), { code: 'FST_SESSION_OWNER_UNSUPPORTED', message: /owner` option/ })
  const inner = new MemoryStore()
  const limited: SessionStore = {
    get: inner.get.bind(inner), set: inner.set.bind(inner), patch: inner.patch.bind(inner), rotate: inner.rotate.bind(inner), touch: inner.touch.bind(inner), destroy: inner.destroy.bind(inner)
  }
  const app = await buildApp(t, { owner: owner as never, store: limited })
  await t.rejects(app.sessions.revoke('alice'), errorCodes.FST_SESSION_OWNER_UNSUPPORTED)
  t.equal(await app.sessions.prune(), 0, 'prune on a store with native expiry is a no-op')
})

t.test('sessions.prune() removes expired sessions now; the timer does it every pruneInterval', async t => {
  const clock = fakeClock(t)
  const store = new MemoryStore()
  const app = await buildApp(t, { store, idleTimeout: '1m' })
  await app.inject({ method: 'POST', url: '/login/alice' })
  await app.inject({ method: 'POST', url: '/login/bob' })
  t.equal(store.size, 2)
  clock.advance(76_000) // 1m idle + 15 s touch slack
  t.equal(await app.sessions.prune(), 2)
  t.equal(store.size, 0)
})
