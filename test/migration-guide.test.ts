// The README's migration guide, followed literally: its "before" and "after" apps and its
// connect-pg-simple block are taken from the README as printed, type-checked as a user's project would
// (strict, skipLibCheck off), and run against real Redis and PostgreSQL servers: a browser logged in on
// the @fastify/session app is still logged in on the switched app, with its data and its 7-day lifetime,
// and a logout is final for the old cookie too. Runs on the built package (npm test builds first).
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify'
import { fastifyCookie } from '@fastify/cookie'
import pg from 'pg'
import { z } from 'zod'
import fastifyZodSession, { type LegacyStore } from '../lib/index.js'
import { startRedis } from './helpers/servers.js'
import { startPostgres } from './helpers/pg-server.mjs'

// loaded by specifiers TypeScript does not follow: @fastify/session's types augment fastify's request
// with a session of its own, which would clash with ours in this file
const fastifySession = (await import('@fastify/session' as string)).default
const connectPgSimple = (await import('connect-pg-simple' as string)).default as (session: unknown) => new (options: object) => object

t.setTimeout(300_000) // two full type checks with skipLibCheck off

const ROOT = new URL('..', import.meta.url).pathname
const readme = (await import('node:fs')).readFileSync(join(ROOT, 'README.md'), 'utf8')
const guide = readme.split('## Migrating from @fastify/session')[1].split('\n## ')[0]

/** the ```ts block of the guide whose first line is `first` */
function block (first: string): string {
  const found = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map(m => m[1]).find(code => code.startsWith(first))
  if (found === undefined) throw new Error(`the migration guide has no code block starting with ${JSON.stringify(first)}`)
  return found
}

const LISTEN = 'await app.listen({ port: 3000 })\n'
const before = block('// app.ts before: @fastify/session + connect-redis')
const after = block('// app.ts after: fastify-zod-session')
const pgLegacy = block('// legacy store: connect-pg-simple')

// inside the package, so that `fastify-zod-session` resolves to this package by its own name
const dir = mkdtempSync(join(ROOT, '.tmp-guide-'))
t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })

t.test('the guide\'s blocks are whole apps that end by listening', async t => {
  t.ok(before.endsWith(LISTEN) && after.endsWith(LISTEN), 'both apps end with app.listen')
  t.notMatch(after, /declare module 'fastify'/, 'the old Session interface is gone from the "after" app')
  t.match(after, /idleTimeout: '7d'/)
  t.match(after, /absoluteTimeout: null/)
})

async function typeCheck (name: string, source: string): Promise<string> {
  const project = join(dir, `types-${name}`)
  const { mkdirSync } = await import('node:fs')
  mkdirSync(project)
  writeFileSync(join(project, 'app.mts'), source)
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] },
    files: ['app.mts']
  }))
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc')
  return await promisify(execFile)(process.execPath, [tsc, '-p', project], { cwd: project, env: { PATH: process.env.PATH } })
    .then(() => '', (err: { stdout?: string }) => err.stdout ?? String(err))
}

t.test('the "after" app type-checks, and request.session is typed by its schema', async t => {
  const misuse = `app.get('/misuse', async request => {
  // @ts-expect-error visits is a number
  const visits: string = request.session.get('visits')
  // @ts-expect-error the schema has no such key
  request.session.get('nope')
  // @ts-expect-error userId is a string
  request.session.set('userId', 42)
  return visits
})
`
  t.equal(await typeCheck('after', after.replace(LISTEN, misuse + LISTEN)), '', 'no type errors, and every misuse is one')
})

t.test('the connect-pg-simple block type-checks', async t => {
  t.equal(await typeCheck('pg', pgLegacy), '', 'no type errors')
})

/** writes `source` as a module of the temp folder and imports it */
async function load<T> (name: string, source: string): Promise<T> {
  const file = join(dir, `${name}.ts`)
  writeFileSync(file, source)
  return await import(pathToFileURL(file).href) as T
}

function cookiesOf (res: LightMyRequestResponse): Record<string, { value: string, maxAge?: number, expires?: Date }> {
  return Object.fromEntries(res.cookies.map(c => [c.name, c as { value: string, maxAge?: number, expires?: Date }]))
}

const OLD_SECRET = 'the-secret-the-app-had-with-fastify-session'
const NEW_SECRET = 'the-new-secret-of-fastify-zod-session-app'

t.test('connect-redis: the "before" app logs a browser in, the "after" app keeps it logged in, a logout is final', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  Object.assign(process.env, { REDIS_URL: redis.url, SESSION_SECRET: OLD_SECRET, SESSION_SECRET_V2: NEW_SECRET })

  const old = (await load<{ app: FastifyInstance }>('before', before.replace(LISTEN, 'export { app }\n'))).app
  const login = await old.inject({ method: 'POST', url: '/login' })
  const oldCookie = `sessionId=${cookiesOf(login).sessionId.value}`
  t.same((await old.inject({ url: '/', headers: { cookie: oldCookie } })).json(), { userId: 'alice', visits: 1 }, 'logged in on @fastify/session')
  await old.close()

  const app = (await load<{ app: FastifyInstance }>('after', after.replace(LISTEN, 'export { app }\n'))).app
  t.teardown(() => app.close())
  const first = await app.inject({ url: '/', headers: { cookie: oldCookie } })
  t.same(first.json(), { userId: 'alice', visits: 2 }, 'the same browser, still logged in, its visits carried over')
  const set = cookiesOf(first)
  t.ok(set.session_id?.value, 'our cookie is set')
  t.equal(set.sessionId?.value, '', 'the old cookie is cleared')
  t.ok((set.session_id.maxAge ?? 0) >= 7 * 24 * 3600, `our cookie lives 7 days (Max-Age ${set.session_id.maxAge}), not 12 hours`)
  const cookie = `session_id=${set.session_id.value}`
  t.same((await app.inject({ url: '/', headers: { cookie } })).json(), { userId: 'alice', visits: 3 }, 'the next request uses our cookie')

  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  t.same((await app.inject({ url: '/', headers: { cookie } })).json(), { userId: null, visits: 1 }, 'logged out')
  const replay = await app.inject({ url: '/', headers: { cookie: oldCookie } })
  t.same(replay.json(), { userId: null, visits: 1 }, 'the pre-switch cookie, replayed after the logout, logs nobody in')
})

t.test('connect-pg-simple: the legacy block imports sessions an @fastify/session + connect-pg-simple app made', async t => {
  const server = await startPostgres()
  t.teardown(() => server.stop())
  process.env.DATABASE_URL = server.url
  process.env.SESSION_SECRET = OLD_SECRET

  // the old app, as an @fastify/session + connect-pg-simple user has it
  const oldPool = new pg.Pool({ connectionString: server.url })
  const OldStore = connectPgSimple(fastifySession)
  const old = Fastify()
  await old.register(fastifyCookie)
  await old.register(fastifySession as never, { secret: OLD_SECRET, store: new OldStore({ pool: oldPool, createTableIfMissing: true }), cookie: { secure: false, maxAge: 86_400_000 } })
  old.post('/login', async request => {
    (request.session as unknown as { set: (key: string, value: string) => void }).set('userId', 'bob')
    return { ok: true }
  })
  const login = await old.inject({ method: 'POST', url: '/login' })
  const oldCookie = `sessionId=${cookiesOf(login).sessionId.value}`
  await old.close()
  await oldPool.end()

  const { stores, pool } = await load<{ stores: { store: never, legacy: { secret: string, store: LegacyStore & { close?: () => Promise<void> } } }, pool: pg.Pool }>('pg-legacy', pgLegacy)
  const app = Fastify()
  await app.register(fastifyZodSession, { secret: NEW_SECRET, schema: z.object({ userId: z.string().optional() }), idleTimeout: '1d', absoluteTimeout: null, ...stores })
  app.get('/', async request => ({ userId: request.session.get('userId') ?? null }))
  await app.ready()
  t.teardown(async () => {
    await app.close()
    await stores.legacy.store.close?.()
    await pool.end()
  })
  const res = await app.inject({ url: '/', headers: { cookie: oldCookie } })
  t.same(res.json(), { userId: 'bob' }, 'logged in, imported from connect-pg-simple\'s table')
  t.ok(cookiesOf(res).session_id?.value, 'with our cookie')
})
