// Plugins written for @fastify/session, registered for real on top of this one.
import t from 'tap'
import fastifyCsrf from '@fastify/csrf-protection'
import fastifyFlash from '@fastify/flash'
import fastifyPassport from '@fastify/passport'
import { Strategy as LocalStrategy } from 'passport-local'
import { z } from 'zod'
import { appWith, sessionCookie } from './helpers/app.js'

const CSRF_SCHEMAS = {
  strict: z.object({ _csrf: z.string().optional() }).strict(),
  permissive: z.object({}).catchall(z.unknown())
}
for (const sessionPlugin of ['@fastify/session', '@fastify/secure-session'] as const) {
  for (const [kind, schema] of Object.entries(CSRF_SCHEMAS)) {
    t.test(`@fastify/csrf-protection with sessionPlugin '${sessionPlugin}' and a ${kind} schema`, async t => {
      const { app, store } = await appWith(t, schema as never, async app => {
        await app.register(fastifyCsrf, { sessionPlugin })
        // generateCsrf(opts): the secure-session mode hands opts to session.options()
        app.get('/form', async (_request, reply) => ({ token: reply.generateCsrf({ userInfo: undefined, path: '/' } as never) }))
        app.post('/submit', { preHandler: app.csrfProtection }, async () => ({ ok: true }))
      })
      const form = await app.inject({ url: '/form' })
      const cookie = sessionCookie(form)!
      const { token } = form.json()
      t.ok(cookie, 'generating a token started a session')
      const key = (cookie.split('=')[1].split('.')[0])
      t.match((await store.get(key))?.data, { _csrf: /^[\w-]{16,}$/ }, 'the csrf secret is kept in the session store')
      t.notMatch(form.headers['set-cookie'], /_csrf/, 'and never sent in a cookie')

      t.equal((await app.inject({ method: 'POST', url: '/submit', headers: { cookie, 'x-csrf-token': token } })).statusCode, 200, 'the right token passes')
      t.equal((await app.inject({ method: 'POST', url: '/submit', headers: { cookie, 'x-csrf-token': token + 'x' } })).statusCode, 403, 'a wrong token is refused')
      t.equal((await app.inject({ method: 'POST', url: '/submit', headers: { cookie } })).statusCode, 403, 'no token is refused')
      const other = await app.inject({ url: '/form' })
      t.equal((await app.inject({ method: 'POST', url: '/submit', headers: { cookie: sessionCookie(other)!, 'x-csrf-token': token } })).statusCode, 403,
        'a token from another session is refused')
      const again = await app.inject({ url: '/form', headers: { cookie } })
      t.equal(sessionCookie(again), undefined, 'a second token for the same session reuses its secret: no write, no new cookie')
    })
  }
}

t.test('@fastify/flash: a message survives one redirect and is read once', async t => {
  const schema = z.object({ flash: z.record(z.string(), z.array(z.string())).optional() })
  const { app } = await appWith(t, schema, async app => {
    await app.register(fastifyFlash)
    app.post('/save', async (request, reply) => {
      request.flash('info', 'saved %s items', '3')
      request.flash('warn', 'disk almost full')
      return reply.redirect('/next')
    })
    app.get('/next', async (_request, reply) => ({ info: reply.flash('info'), warn: reply.flash('warn') }))
    app.get('/all', async (_request, reply) => reply.flash())
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/save' }))!
  t.same((await app.inject({ url: '/next', headers: { cookie } })).json(), { info: ['saved 3 items'], warn: ['disk almost full'] })
  t.same((await app.inject({ url: '/next', headers: { cookie } })).json(), { info: [], warn: [] }, 'gone once read')
  t.same((await app.inject({ url: '/all', headers: { cookie } })).json(), {})
})

t.test('@fastify/passport with a local strategy: login regenerates the session, logout ends it', async t => {
  const users: Record<string, { id: string, name: string, password: string }> = { 1: { id: '1', name: 'ada', password: 'lovelace' } }
  const schema = z.object({ passport: z.string().optional(), theme: z.string().optional() })
  const { app, store } = await appWith(t, schema, async app => {
    const passport = new fastifyPassport.Authenticator()
    passport.use('local', new LocalStrategy((username, password, done) => {
      const user = Object.values(users).find(u => u.name === username && u.password === password)
      done(null, user ?? false)
    }))
    passport.registerUserSerializer(async (user: { id: string }) => user.id)
    passport.registerUserDeserializer(async (id: string) => users[id] ?? null)
    await app.register(passport.initialize())
    await app.register(passport.secureSession())
    app.post('/theme', async request => { request.session.set('theme', 'dark'); return 'ok' })
    app.post('/login', { preValidation: passport.authenticate('local', { authInfo: false }) }, async request => ({ user: (request.user as { name: string }).name }))
    app.get('/me', async request => ({ user: (request.user as { name: string } | undefined)?.name ?? null, theme: request.session.get('theme') ?? null }))
    app.post('/logout', async request => { await request.logout(); return 'bye' })
  })
  const anonymous = sessionCookie(await app.inject({ method: 'POST', url: '/theme' }))!
  const idOf = (cookie: string): string => (cookie.split('=')[1].split('.')[0])

  const wrong = await app.inject({ method: 'POST', url: '/login', headers: { cookie: anonymous }, payload: { username: 'ada', password: 'nope' } })
  t.equal(wrong.statusCode, 401, 'a wrong password is refused')

  const login = await app.inject({ method: 'POST', url: '/login', headers: { cookie: anonymous }, payload: { username: 'ada', password: 'lovelace' } })
  t.same(login.json(), { user: 'ada' })
  const loggedIn = sessionCookie(login)!
  t.not(loggedIn, anonymous, 'login regenerated the session id')
  t.equal(await store.get(idOf(anonymous)), undefined, 'the pre-login session is gone from the store')
  t.same((await app.inject({ url: '/me', headers: { cookie: loggedIn } })).json(), { user: 'ada', theme: null },
    'passport clears the pre-login data on login (its clearSessionOnLogin default)')
  t.same((await app.inject({ url: '/me', headers: { cookie: anonymous } })).json(), { user: null, theme: null }, 'the old cookie is not logged in')
  t.match((await store.get(idOf(loggedIn)))?.data, { passport: '1' })

  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: loggedIn } })
  t.equal(logout.body, 'bye')
  t.equal(await store.get(idOf(loggedIn)), undefined, 'the logged-in session is gone from the store')
  t.same((await app.inject({ url: '/me', headers: { cookie: loggedIn } })).json(), { user: null, theme: null }, 'its cookie no longer logs anyone in')
})

t.test('@fastify/passport: successRedirect, keepSessionInfo, and a logout that leaves an empty session', async t => {
  const schema = z.object({ passport: z.string().optional(), theme: z.string().optional(), returnTo: z.string().optional() })
  const { app, store } = await appWith(t, schema, async app => {
    const passport = new fastifyPassport.Authenticator()
    passport.use('local', new LocalStrategy((username, password, done) => { done(null, username === 'ada' && password === 'lovelace' ? { id: '1' } : false) }))
    passport.registerUserSerializer(async (user: { id: string }) => user.id)
    passport.registerUserDeserializer(async (id: string) => ({ id, name: 'ada' }))
    await app.register(passport.initialize())
    await app.register(passport.secureSession())
    app.post('/theme', async request => { request.session.set('theme', 'dark'); return 'ok' })
    // passport sends the redirect from its preValidation hook without returning the reply
    app.post('/login', { preValidation: passport.authenticate('local', { successRedirect: '/home', authInfo: false }) }, async () => 'not reached')
    app.post('/login-keep', { preValidation: passport.authenticate('local', { keepSessionInfo: true, authInfo: false }) }, async () => 'in')
    app.get('/home', async request => ({ user: (request.user as { name: string } | undefined)?.name ?? null, theme: request.session.get('theme') ?? null }))
    app.post('/logout', async request => { await request.logout(); return { keys: Object.keys(request.session) } })
  })
  const idOf = (cookie: string): string => cookie.split('=')[1].split('.')[0]
  const anonymous = sessionCookie(await app.inject({ method: 'POST', url: '/theme' }))!

  const redirected = await app.inject({ method: 'POST', url: '/login', headers: { cookie: anonymous }, payload: { username: 'ada', password: 'lovelace' } })
  t.equal(redirected.statusCode, 302)
  t.equal(redirected.headers.location, '/home')
  const loggedIn = sessionCookie(redirected)!
  t.ok(loggedIn, 'the redirect carries the logged-in cookie')
  t.same((await app.inject({ url: '/home', headers: { cookie: loggedIn } })).json(), { user: 'ada', theme: null }, 'successRedirect logs in (pre-login data cleared)')

  const other = sessionCookie(await app.inject({ method: 'POST', url: '/theme' }))!
  const kept = await app.inject({ method: 'POST', url: '/login-keep', headers: { cookie: other }, payload: { username: 'ada', password: 'lovelace' } })
  const keptCookie = sessionCookie(kept)!
  t.not(keptCookie, other, 'keepSessionInfo still regenerates the id')
  t.equal(await store.get(idOf(other)), undefined)
  t.same((await app.inject({ url: '/home', headers: { cookie: keptCookie } })).json(), { user: 'ada', theme: 'dark' }, 'keepSessionInfo keeps the pre-login data')

  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: keptCookie } })
  t.same(out.json(), { keys: [] }, 'logout leaves an empty session')
  t.same((await app.inject({ url: '/home', headers: { cookie: keptCookie } })).json(), { user: null, theme: null })
})
