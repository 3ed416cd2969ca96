// Its own file: our copy of @fastify/cookie must never have been registered in this process.
import t from 'tap'
import { cpSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { type FastifyZodSessionOptions } from '../lib/index.js'
import { sessionCookie, rawSetCookie, SECRET } from './helpers/app.js'

const ROOT = new URL('..', import.meta.url).pathname

t.test('an app that registered its own copy of @fastify/cookie gets working cookies', async t => {
  // the app's lockfile pins another @fastify/cookie: ours is nested and never registered
  const dir = mkdtempSync(join(ROOT, '.tmp-two-cookies-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  cpSync(join(ROOT, 'node_modules/@fastify/cookie'), join(dir, 'node_modules/@fastify/cookie'), { recursive: true })
  const require = createRequire(join(dir, 'app.js'))
  const appsCookie = require('@fastify/cookie')
  t.not(require.resolve('@fastify/cookie'), createRequire(import.meta.url).resolve('@fastify/cookie'), 'two copies are loaded')
  const app = Fastify()
  await app.register(appsCookie)
  await app.register(fastifyZodSession, { secret: SECRET, schema: z.object({ n: z.number().default(0) }) } as FastifyZodSessionOptions)
  app.post('/', async (request) => { request.session.set('n' as never, 1 as never); return {} })
  app.post('/logout', async (request) => { await request.session.destroy(); return {} })
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/' })
  t.equal(res.statusCode, 200)
  const cookie = sessionCookie(res)!
  t.ok(cookie, 'a session cookie is set')
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(out.statusCode, 200)
  t.match(rawSetCookie(out)[0], /^session_id=; Max-Age=0/, 'and cleared')
})
