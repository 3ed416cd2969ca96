import t from 'tap'
// @ts-expect-error the example is plain JavaScript
import { buildExampleApp } from '../examples/app.js'
import type { FastifyInstance } from 'fastify'
import { sessionCookie } from './helpers/app.js'
import { tempDir } from './helpers/tmp.js'
import { DirectoryStore } from '../stores/directory.js'

t.test('the example app: login, counter, cart, logout', async t => {
  const app: FastifyInstance = await buildExampleApp({ logger: false, store: new DirectoryStore({ path: tempDir(t) }) })
  t.teardown(() => app.close())
  let cookie = sessionCookie(await app.inject('/'))!
  const login = await app.inject({ method: 'POST', url: '/login', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=Ann' })
  t.equal(login.statusCode, 303)
  const regenerated = sessionCookie(login)!
  t.not(regenerated, cookie, 'login regenerates the id')
  cookie = regenerated
  await app.inject({ method: 'POST', url: '/cart', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'item=apple' })
  await app.inject({ method: 'POST', url: '/cart', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'item=apple' })
  const home = await app.inject({ url: '/', headers: { cookie } })
  t.match(home.body, /Welcome, Ann!/)
  t.match(home.body, /Logged in as <strong>Ann<\/strong>/)
  t.match(home.body, /apple × 2/)
  t.match(home.body, /Visits this session: <strong>2<\/strong>/)
  t.notMatch((await app.inject({ url: '/', headers: { cookie } })).body, /Welcome/, 'the flash message shows once')
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.match(String(out.headers['set-cookie']), /session_id=;/)
  t.notMatch((await app.inject({ url: '/', headers: { cookie } })).body, /Logged in/)
})

t.test('the example app on DirectoryStore: a restart keeps you logged in', async t => {
  const dir = tempDir(t)
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const before: FastifyInstance = await buildExampleApp({ logger: false, store: new DirectoryStore({ path: dir }) })
  const cookie = sessionCookie(await before.inject({ method: 'POST', url: '/login', headers: form, payload: 'name=Bea' }))!
  await before.close()
  const after: FastifyInstance = await buildExampleApp({ logger: false, store: new DirectoryStore({ path: dir }) })
  t.teardown(() => after.close())
  t.match((await after.inject({ url: '/', headers: { cookie } })).body, /Logged in as <strong>Bea<\/strong>/)
})
