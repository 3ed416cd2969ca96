import t from 'tap'
import Fastify from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { errorCodes, MemoryStore } from '../lib/index.js'
import { toMs } from '../lib/duration.js'
import { SECRET, TestSchema } from './helpers/app.js'

async function readyError (options: Record<string, unknown>): Promise<Error & { code?: string }> {
  const app = Fastify()
  app.register(fastifyZodSession, options as never)
  try {
    await app.ready()
  } catch (err) {
    return err as Error
  } finally {
    await app.close()
  }
  throw new Error('app.ready() did not reject')
}

const base = { secret: SECRET, schema: TestSchema }

t.test('bad options reject app.ready() with FST_SESSION_INVALID_OPTIONS naming the option', async t => {
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['missing secret', { schema: TestSchema }, /"secret": is required/],
    ['short secret', { ...base, secret: 'short' }, /"secret": must be at least 32 characters/],
    ['short secret in an array', { ...base, secret: [SECRET, 'short'] }, /"secret"/],
    ['secret of the wrong type', { ...base, secret: 42 }, /"secret"/],
    ['missing schema', { secret: SECRET }, /"schema": must be a zod schema/],
    ['schema rejecting {}', { ...base, schema: z.object({ userId: z.string() }) }, /"schema": must accept an empty object.*userId/],
    ['store without methods', { ...base, store: { get () {} } }, /"store": is not a SessionStore: missing set\(\), patch\(\), rotate\(\), touch\(\), destroy\(\)/],
    ['store of the wrong type', { ...base, store: 'nope' }, /"store"/],
    ['bad duration', { ...base, idleTimeout: '15 minutes' }, /"idleTimeout": "15 minutes" is not a duration/],
    ['negative duration', { ...base, touchAfter: -1 }, /"touchAfter"/],
    ['null where not allowed', { ...base, rotationGrace: null }, /"rotationGrace": must not be null/],
    ['zero idle timeout', { ...base, idleTimeout: 0 }, /"idleTimeout": must be greater than 0/],
    ['unknown option', { ...base, sessionAge: 10 }, /"sessionAge": is not an option/],
    ['bad onStoreError', { ...base, onStoreError: 'ignore' }, /"onStoreError"/],
    ['bad onInvalidData', { ...base, onInvalidData: 'drop' }, /"onInvalidData"/],
    ['bad bind', { ...base, bind: { ip: 'yes' } }, /"bind.ip"/],
    ['bad cookie name', { ...base, cookieName: 'a b' }, /"cookieName"/],
    ['bad cookie path', { ...base, cookie: { path: 'app' } }, /"cookie.path"/],
    ['sameSite none without secure', { ...base, cookie: { sameSite: 'none', secure: false } }, /"cookie.sameSite"/],
    ['owner not a function', { ...base, owner: 'userId' }, /"owner"/],
    ['bad maxDataBytes', { ...base, maxDataBytes: 0 }, /"maxDataBytes"/],
    // carried over from @fastify/session: silently ignored before, 15-minute sessions
    ['cookie.maxAge', { ...base, cookie: { maxAge: 86_400_000 } }, /"cookie.maxAge": .*idleTimeout/],
    ['cookie.expires', { ...base, cookie: { expires: new Date(Date.now() + 1e9) } }, /"cookie.expires": .*idleTimeout/],
    ['misspelled cookie key', { ...base, cookie: { httponly: true } }, /"cookie.httponly": is not a cookie option \(known: path, domain, httpOnly/],
    ['cookie.domain serialize refuses', { ...base, cookie: { domain: 'exa mple.com' } }, /"cookie.domain": "exa mple.com" is not a domain name/],
    ['cookie.domain with a path', { ...base, cookie: { domain: 'example.com/x' } }, /"cookie.domain"/],
    ['cookie.path with ;', { ...base, cookie: { path: '/a;b' } }, /"cookie.path": .*percent-encode/],
    ['cookie.path with non-ASCII', { ...base, cookie: { path: '/caf\u00e9' } }, /"cookie.path"/],
    ['partitioned without secure', { ...base, cookie: { partitioned: true } }, /"cookie.partitioned": requires secure: true/],
    ['httpOnly not a boolean', { ...base, cookie: { httpOnly: 'yes' } }, /"cookie.httpOnly"/],
    ['schema output not a plain object', { ...base, schema: z.object({}).transform(() => new Map()) }, /"schema": must give a plain object/],
    ['schema output an array', { ...base, schema: z.any().transform(() => []) }, /"schema": must give a plain object/],
    ['schema defaults JSON cannot carry', { ...base, schema: z.object({ tags: z.set(z.string()).default(new Set()) }) }, /"schema": its defaults cannot be stored: tags: a Set/],
    ['pruneInterval beyond a Node timer', { ...base, pruneInterval: '25d' }, /"pruneInterval": must be at most 24 days/],
    ['storeTimeout beyond a Node timer', { ...base, storeTimeout: '30d' }, /"storeTimeout": must be at most 24 days/],
    ['zero storeTimeout', { ...base, storeTimeout: 0 }, /"storeTimeout": must be greater than 0/],
    ['memcached prefix with a space', { ...base, store: 'memcached://127.0.0.1:1?prefix=a%20b' }, /"store": .*prefix/]
  ]
  for (const [name, options, message] of cases) {
    const err = await readyError(options)
    t.equal(err.code, 'FST_SESSION_INVALID_OPTIONS', name)
    t.match(err.message, message, name)
  }
})

t.test('durations: numbers are seconds, strings carry a unit', async t => {
  t.equal(toMs(90), 90_000)
  t.equal(toMs(0.5), 500)
  t.equal(toMs('30s'), 30_000)
  t.equal(toMs('15m'), 900_000)
  t.equal(toMs('4h'), 14_400_000)
  t.equal(toMs('7d'), 604_800_000)
  t.equal(toMs('250ms'), 250)
  t.equal(toMs('1.5h'), 5_400_000)
  for (const bad of ['', '15', 'm', '-1s', '1w', 'abc', NaN, Infinity, -5, {}, null]) t.equal(toMs(bad), undefined, String(bad))
})

t.test('valid options start the app and decorate it', async t => {
  const store = new MemoryStore()
  const app = Fastify()
  await app.register(fastifyZodSession, { ...base, store, idleTimeout: null, absoluteTimeout: '7d', cookie: { sameSite: 'strict' } })
  await app.ready()
  t.equal(app.sessionStore, store)
  t.type(app.sessions.list, 'function')
  t.notOk(app.hasPlugin('@fastify/cookie'), 'decorates nothing of @fastify/cookie at the app\'s level: the app may register it later')
  t.ok(app.hasPlugin('fastify-zod-session'))
  await app.close()
})

t.test('an app that registered @fastify/cookie keeps its own registration', async t => {
  const { fastifyCookie } = await import('@fastify/cookie')
  const app = Fastify()
  await app.register(fastifyCookie, { secret: 'cookie-plugin-secret' })
  await app.register(fastifyZodSession, base)
  await app.ready()
  t.type(app.signCookie, 'function', 'the app\'s cookie secret is still there')
  await app.close()
})

t.test('an app that registers @fastify/cookie after the plugin works, its cookies and ours', async t => {
  const { fastifyCookie } = await import('@fastify/cookie')
  const app = Fastify()
  await app.register(fastifyZodSession, base)
  await app.register(fastifyCookie, { secret: 'cookie-plugin-secret' })
  app.get('/both', async (request, reply) => {
    request.session.set('n', (request.session.get('n') as number | undefined ?? 0) + 1)
    reply.setCookie('theme', 'dark', { signed: true })
    return { n: request.session.get('n'), theme: request.cookies.theme ?? null }
  })
  await app.ready()
  const first = await app.inject({ url: '/both' })
  t.equal(first.statusCode, 200)
  const cookies = first.cookies.map(c => `${c.name}=${c.value}`).join('; ')
  t.match(cookies, /session_id=.*theme=|theme=.*session_id=/, 'both cookies set')
  const second = await app.inject({ url: '/both', headers: { cookie: cookies } })
  t.same(second.json(), { n: 2, theme: app.signCookie('dark') }, 'the session is read back (its hook runs before @fastify/cookie\'s parse) and the app\'s cookie too')
  await app.close()
})

t.test('the plugin works with no @fastify/cookie in the app at all', async t => {
  const app = Fastify()
  await app.register(fastifyZodSession, base)
  app.get('/n', async request => {
    request.session.set('n', (request.session.get('n') as number | undefined ?? 0) + 1)
    return { n: request.session.get('n') }
  })
  await app.ready()
  const first = await app.inject({ url: '/n' })
  const cookie = first.cookies.map(c => `${c.name}=${c.value}`).join('; ')
  t.equal((await app.inject({ url: '/n', headers: { cookie: `other=1; ${cookie}` } })).json().n, 2)
  await app.close()
})

t.test('the error codes are @fastify/error constructors with status codes', async t => {
  const err = new errorCodes.FST_SESSION_STORE_UNAVAILABLE('load the session')
  t.equal(err.statusCode, 503)
  t.equal(err.code, 'FST_SESSION_STORE_UNAVAILABLE')
  t.ok(err instanceof errorCodes.FST_SESSION_STORE_UNAVAILABLE)
})
