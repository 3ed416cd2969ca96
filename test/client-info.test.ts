import t from 'tap'
import { buildApp, sessionCookie } from './helpers/app.js'
import { CountingStore } from './helpers/counting-store.js'
import { fakeClock } from './helpers/clock.js'

const whoRoute = (app: Awaited<ReturnType<typeof buildApp>>): void => {
  app.get('/who', async (request) => ({
    ip: request.session.ip,
    userAgent: request.session.userAgent,
    lastAccess: request.session.lastAccess,
    createdAt: request.session.createdAt.getTime(),
    expiresAt: request.session.expiresAt?.getTime() ?? null
  }))
}

t.test('ip, userAgent and lastAccess are recorded; ip honours trustProxy', async t => {
  const clock = fakeClock(t)
  const app = await buildApp(t, { fastify: { trustProxy: true } }, whoRoute)
  const login = await app.inject({ method: 'POST', url: '/login/alice', headers: { 'x-forwarded-for': '203.0.113.7', 'user-agent': 'Browser/1' } })
  const cookie = sessionCookie(login)!
  const created = clock.now()
  clock.advance(5000)
  await app.inject({ method: 'POST', url: '/visit', headers: { cookie, 'x-forwarded-for': '203.0.113.8', 'user-agent': 'Browser/1' } })
  clock.advance(5000)
  const res = await app.inject({ url: '/who', headers: { cookie, 'x-forwarded-for': '198.51.100.1', 'user-agent': 'Browser/1' } })
  t.same(res.json(), {
    ip: '203.0.113.7',
    userAgent: 'Browser/1',
    lastAccess: { at: new Date(created + 5000).toISOString(), ip: '203.0.113.8' },
    createdAt: created,
    expiresAt: created + 16 * 60_000 // idle timeout + touch slack from the login; not extended while more than the idle timeout is left
  })
})

t.test('bind: an IP or User-Agent mismatch destroys the session', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, bind: { ip: true, userAgent: true }, fastify: { trustProxy: true } })
  const headers = { 'x-forwarded-for': '203.0.113.7', 'user-agent': 'Browser/1' }
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice', headers }))!
  t.equal((await app.inject({ url: '/read', headers: { ...headers, cookie } })).json().userId, 'alice', 'same client')
  const stolen = await app.inject({ url: '/read', headers: { ...headers, 'user-agent': 'curl/8', cookie } })
  t.equal(stolen.json().userId, null, 'other User-Agent: fresh session')
  t.equal(store.count('destroy'), 1)
  t.equal((await app.inject({ url: '/read', headers: { ...headers, cookie } })).json().userId, null, 'and the session is gone for the owner too')

  const again = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice', headers }))!
  t.equal((await app.inject({ url: '/read', headers: { ...headers, 'x-forwarded-for': '203.0.113.99', cookie: again } })).json().userId, null, 'other IP')
})

t.test("bind ip 'subnet' tolerates moves inside a /24 or /64", async t => {
  const app = await buildApp(t, { bind: { ip: 'subnet' }, fastify: { trustProxy: true } })
  for (const [from, near, far] of [['203.0.113.7', '203.0.113.200', '203.0.114.7'], ['2001:db8:0:1::5', '2001:db8:0:1:ffff::9', '2001:db8:0:2::5']]) {
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice', headers: { 'x-forwarded-for': from } }))!
    t.equal((await app.inject({ url: '/read', headers: { 'x-forwarded-for': near, cookie } })).json().userId, 'alice', `${from} → ${near}`)
    t.equal((await app.inject({ url: '/read', headers: { 'x-forwarded-for': far, cookie } })).json().userId, null, `${from} → ${far}`)
  }
})

t.test("bind onMismatch 'log' only logs", async t => {
  const logs: string[] = []
  const app = await buildApp(t, { bind: { userAgent: true, onMismatch: 'log' }, fastify: { logger: { level: 'warn', stream: { write: (l: string) => { logs.push(l) } } } } })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/alice', headers: { 'user-agent': 'A' } }))!
  t.equal((await app.inject({ url: '/read', headers: { 'user-agent': 'B', cookie } })).json().userId, 'alice')
  t.ok(logs.some(l => l.includes('binding mismatch') && l.includes('userAgent')))
  t.notOk(logs.some(l => l.includes(cookie.split('=')[1].split('.')[1])), 'the cookie secret is never logged')
})

t.test('Vary: Cookie whenever the session was read or written', async t => {
  const app = await buildApp(t, {}, app => {
    app.get('/vary-accept', async (request, reply) => { reply.header('vary', 'Accept'); return { v: request.session.get('visits') } })
  })
  t.equal((await app.inject('/read')).headers.vary, undefined, 'no session: no Vary')
  const first = await app.inject({ method: 'POST', url: '/visit' })
  t.equal(first.headers.vary, 'Cookie')
  const cookie = sessionCookie(first)!
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).headers.vary, 'Cookie')
  t.equal((await app.inject({ url: '/vary-accept', headers: { cookie } })).headers.vary, 'Accept, Cookie')
})

t.test('requests outside cookie.path do not touch the store', async t => {
  const store = new CountingStore()
  const app = await buildApp(t, { store, cookie: { path: '/app' } }, app => {
    app.post('/app/visit', async (request) => { request.session.set('visits', (request.session.get('visits') as number) + 1); return {} })
    app.get('/app', async (request) => ({ visits: request.session.get('visits') }))
    app.get('/application', async (request) => ({ visits: request.session.get('visits') }))
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/app/visit' }))!
  t.equal((await app.inject({ url: '/app?x=1', headers: { cookie } })).json().visits, 1)
  store.reset()
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().visits, 0)
  t.equal((await app.inject({ url: '/application', headers: { cookie } })).json().visits, 0)
  t.equal(store.count(), 0)
})
