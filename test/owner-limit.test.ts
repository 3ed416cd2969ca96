// maxSessionsPerOwner one request at a time: which session goes, the events, and options that cannot
// work. The parallel-login races run for every store in the lifecycle race suite (testing/owner-limit-races.ts).
import t from 'tap'
import { buildApp, sessionCookie, idOf } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { fakeClock } from './helpers/clock.js'
import { MemoryStore, type SessionEvent, type SessionStore } from '../lib/index.js'

const owner = (data: Record<string, unknown>): string | undefined => data.userId as string | undefined

t.test('evictIdlest: the session unused the longest is logged out, and a destroyed event says why', async t => {
  const store = new MemoryStore()
  const destroyed: SessionEvent[] = []
  const app = await buildApp(t, { store, owner, maxSessionsPerOwner: { limit: 2, policy: 'evictIdlest' }, events: { destroyed: e => { destroyed.push(e) } } })
  const a = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const b = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  // a was used a minute ago, b two hours ago: b is the idlest although a is older
  for (const [cookie, ago] of [[a, 60_000], [b, 7_200_000]] as const) {
    t.equal(await store.patch(idOf(cookie), { set: {}, unset: [], meta: { lastAccessAt: Date.now() - ago } }), 'ok')
  }
  const c = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  const user = async (cookie: string): Promise<string | null> => (await app.inject({ url: '/read', headers: { cookie } })).json().userId
  t.equal(await user(a), 'ann')
  t.equal(await user(b), null)
  t.equal(await user(c), 'ann')
  t.same(destroyed.map(e => [e.id, e.owner, e.reason]), [[idOf(b), 'ann', 'limit']])
})

t.test('refuse: the login over the limit is a 409 and writes nothing; other owners are not counted', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, owner, maxSessionsPerOwner: { limit: 1, policy: 'refuse' } })
  const first = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
  store.reset()
  const refused = await app.inject({ method: 'POST', url: '/login/ann' })
  t.equal(refused.statusCode, 409)
  t.equal(refused.json().code, 'FST_SESSION_LIMIT')
  t.equal(refused.headers['set-cookie'], undefined)
  t.equal(store.writes(), 0)
  t.equal((await app.inject({ url: '/read', headers: { cookie: first } })).json().userId, 'ann')
  t.equal((await app.inject({ method: 'POST', url: '/login/bob' })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/visit' })).statusCode, 200, 'anonymous sessions have no owner and no limit')
  await app.inject({ method: 'POST', url: '/logout', headers: { cookie: first } })
  t.equal((await app.inject({ method: 'POST', url: '/login/ann' })).statusCode, 200, 'after a logout there is room again')
})

t.test('a re-login from the same browser is not counted against the session it replaces, with every policy', async t => {
  for (const policy of ['refuse', 'evictOldest', 'evictIdlest'] as const) {
    const store = new MemoryStore()
    const app = await buildApp(t, { store, owner, maxSessionsPerOwner: { limit: 1, policy } })
    const first = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
    const again = await app.inject({ method: 'POST', url: '/login/ann', headers: { cookie: first } })
    t.equal(again.statusCode, 200, `${policy}: the re-login is accepted`)
    const second = sessionCookie(again)!
    t.equal((await app.inject({ url: '/read', headers: { cookie: second } })).json().userId, 'ann', `${policy}: the new login is logged in`)
    t.equal((await app.inject({ url: '/read', headers: { cookie: first } })).json().userId, null, `${policy}: the replaced session is dead`)
    t.same(await app.sessions.list('ann').then(list => list.map(s => s.id)), [idOf(second)])
  }
})

t.test('logins in the same millisecond as an existing session never remove it, with every policy', async t => {
  fakeClock(t) // every request below starts and saves in one millisecond
  for (const policy of ['refuse', 'evictOldest', 'evictIdlest'] as const) {
    for (let round = 0; round < 10; round++) {
      const app = await buildApp(t, { store: new MemoryStore(), owner, maxSessionsPerOwner: { limit: 2, policy } })
      const first = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
      const logins = await Promise.all(Array.from({ length: 4 }, async () => await app.inject({ method: 'POST', url: '/login/ann' })))
      const user = async (cookie: string): Promise<string | null> => (await app.inject({ url: '/read', headers: { cookie } })).json().userId
      const kept = policy === 'refuse' ? 'ann' : null
      t.equal(await user(first), kept, `${policy}: the earlier session is ${policy === 'refuse' ? 'kept' : 'the one evicted'}`)
      const alive = await Promise.all(logins.map(async res => res.statusCode === 200 ? await user(sessionCookie(res)!) : null))
      t.equal(alive.filter(u => u === 'ann').length + (kept === null ? 0 : 1), 2, `${policy}: the limit holds and is used`)
      await app.close()
    }
  }
})

t.test('maxSessionsPerOwner that cannot work fails app.ready() naming it', async t => {
  await t.rejects(buildApp(t, { maxSessionsPerOwner: { limit: 2, policy: 'evictOldest' } }), /"maxSessionsPerOwner": needs the `owner` option/)
  await t.rejects(buildApp(t, { owner, maxSessionsPerOwner: { limit: 0, policy: 'refuse' } }), /"maxSessionsPerOwner.limit": must be a positive integer/)
  await t.rejects(buildApp(t, { owner, maxSessionsPerOwner: { limit: 2, policy: 'oldest' as never } }), /"maxSessionsPerOwner.policy"/)
  const inner = new MemoryStore()
  const noListing: SessionStore = {
    get: id => inner.get(id),
    set: (id, r) => inner.set(id, r),
    patch: (id, c) => inner.patch(id, c),
    rotate: (id, f, a) => inner.rotate(id, f, a),
    touch: (id, e) => inner.touch(id, e),
    destroy: id => inner.destroy(id)
  }
  await t.rejects(buildApp(t, { owner, store: noListing, maxSessionsPerOwner: { limit: 2, policy: 'refuse' } }), /"maxSessionsPerOwner": Object cannot list sessions by owner/)
})
