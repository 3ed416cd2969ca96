import t from 'tap'
// @ts-expect-error the example is plain JavaScript
import { buildExampleApp } from '../examples/app.js'
import type { FastifyInstance } from 'fastify'
import { sessionCookie } from './helpers/app.js'
import { tempDir } from './helpers/tmp.js'
import { DirectoryStore } from '../stores/directory.js'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'

/** logs `name` in from a device with user agent `agent`; the session cookie */
async function loginAs (app: FastifyInstance, name: string, agent: string): Promise<string> {
  const res = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': agent }, payload: `name=${name}` })
  return sessionCookie(res)!
}

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

t.test('the example app: "your sessions" lists every device and logs the others out', async t => {
  const app: FastifyInstance = await buildExampleApp({ logger: false, store: new DirectoryStore({ path: tempDir(t) }) })
  t.teardown(() => app.close())
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const login = async (agent: string): Promise<string> => await loginAs(app, 'Cy', agent)
  const laptop = await login('Laptop <b>')
  const phone = await login('Phone')
  const page = (await app.inject({ url: '/sessions', headers: { cookie: laptop } })).body
  t.equal(page.match(/class="session"/g)?.length, 2, 'both devices are listed')
  t.match(page, /Laptop &#60;b&#62; <strong class="current">\(this device\)<\/strong>/, 'the current one is marked, user agents are escaped')
  t.equal((await app.inject({ url: '/sessions' })).statusCode, 303, 'logged-out visitors are sent home')

  const out = await app.inject({ method: 'POST', url: '/logout-everywhere', headers: { ...form, cookie: laptop }, payload: 'scope=others' })
  t.equal(out.headers.location, '/sessions')
  t.match((await app.inject({ url: '/', headers: { cookie: laptop } })).body, /Logged in as/, 'this device stays logged in')
  t.notMatch((await app.inject({ url: '/', headers: { cookie: phone } })).body, /Logged in as/, 'the other device is logged out')
  await app.inject({ method: 'POST', url: '/logout-everywhere', headers: { ...form, cookie: laptop } })
  t.notMatch((await app.inject({ url: '/', headers: { cookie: laptop } })).body, /Logged in as/, '"log out everywhere" ends this one too')
})

t.test('the example app takes any store by URL from SESSION_STORE_URL', async t => {
  const dir = tempDir(t)
  process.env.SESSION_STORE_URL = `file://${dir}/sessions.db`
  t.teardown(() => { delete process.env.SESSION_STORE_URL })
  const app: FastifyInstance = await buildExampleApp({ logger: false })
  t.teardown(() => app.close())
  await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=Di' })
  t.match(readFileSync(join(dir, 'sessions.db'), 'utf8'), /"user":"Di"/, 'the session went to the FileStore the URL names')
})

t.test('the example app stores sessions under SESSION_DIR even with URL-special characters in the path', async t => {
  const dir = join(tempDir(t), 'odd # dir ? 100%')
  process.env.SESSION_DIR = dir
  t.teardown(() => { delete process.env.SESSION_DIR })
  const app: FastifyInstance = await buildExampleApp({ logger: false })
  t.teardown(() => app.close())
  await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'name=Eve' })
  t.ok(readdirSync(dir).some(name => name.endsWith('.session')), 'the session file is in the folder, not a mangled one')
})

t.test('the example app: changing the name needs a login within 2 minutes', async t => {
  const store = new DirectoryStore({ path: tempDir(t) })
  const app: FastifyInstance = await buildExampleApp({ logger: false, store })
  t.teardown(() => app.close())
  const form = { 'content-type': 'application/x-www-form-urlencoded' }
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login', headers: form, payload: 'name=Fay' }))!
  const renamed = await app.inject({ method: 'POST', url: '/account/name', headers: { ...form, cookie }, payload: 'name=Faye' })
  t.equal(renamed.statusCode, 303)
  t.match((await app.inject({ url: '/', headers: { cookie } })).body, /Logged in as <strong>Faye<\/strong>/)
  // the login was 3 minutes ago
  const id = cookie.split('=')[1].split('.')[0]
  t.equal(await store.patch(id, { set: {}, unset: [], meta: { authenticatedAt: Date.now() - 180_000 } }), 'ok')
  const refused = await app.inject({ method: 'POST', url: '/account/name', headers: { ...form, cookie }, payload: 'name=Mallory' })
  t.equal(refused.statusCode, 303)
  const home = (await app.inject({ url: '/', headers: { cookie } })).body
  t.match(home, /needs a recent login/)
  t.match(home, /Logged in as <strong>Faye<\/strong>/, 'not renamed, still logged in')
})

t.test('the example app: a 4th device logs the oldest out, and "your sessions" shows the activity', async t => {
  const app: FastifyInstance = await buildExampleApp({ logger: false, store: new DirectoryStore({ path: tempDir(t) }) })
  t.teardown(() => app.close())
  const login = async (agent: string): Promise<string> => await loginAs(app, 'Gus', agent)
  const devices = []
  for (const agent of ['One', 'Two', 'Three', 'Four']) devices.push(await login(agent))
  t.notMatch((await app.inject({ url: '/', headers: { cookie: devices[0] } })).body, /Logged in as/, 'the oldest device was logged out')
  for (const cookie of devices.slice(1)) t.match((await app.inject({ url: '/', headers: { cookie } })).body, /Logged in as <strong>Gus/)
  const page = (await app.inject({ url: '/sessions', headers: { cookie: devices[3] } })).body
  t.equal(page.match(/class="session"/g)?.length, 3)
  t.match(page, /up to 3 devices/)
  t.match(page, /logged out \(more than 3 devices\)/)
  t.equal(page.match(/<td>logged in<\/td>/g)?.length, 4)
})
