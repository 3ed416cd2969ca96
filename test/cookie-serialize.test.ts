// The Set-Cookie of the app's own attributes is joined from parts made once; it must be, byte for byte,
// what @fastify/cookie's serializer writes, for every option combination, over a run of requests.
import t from 'tap'
import fc from 'fast-check'
import Fastify, { type FastifyRequest } from 'fastify'
import { fastifyCookie } from '@fastify/cookie'
import { z } from 'zod'
import { SessionCookie } from '../lib/cookie.js'
import { resolveOptions } from '../lib/options.js'
import { MemoryStore } from '../stores/memory.js'
import { SECRET } from './helpers/app.js'

t.test('joined Set-Cookie values are the serializer\'s, for any cookie options, clock and expiry', async t => {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.ready()
  t.teardown(async () => { await app.close() })
  let serializerCalls = 0
  const codec = { serialize: (...a: Parameters<typeof app.serializeCookie>) => { serializerCalls++; return app.serializeCookie(...a) }, parse: app.parseCookie }

  const options = fc.record({
    cookieName: fc.constantFrom('session_id', 'sid', '__Host-s'),
    path: fc.constantFrom('/', '/app', '/a/b/'),
    domain: fc.option(fc.constantFrom('example.com', 'sub.example.org'), { nil: undefined }),
    httpOnly: fc.boolean(),
    sameSite: fc.constantFrom<Array<'lax' | 'strict' | 'none' | boolean>>('lax', 'strict', 'none', true, false),
    secure: fc.constantFrom<Array<boolean | 'auto'>>(true, false, 'auto'),
    partitioned: fc.option(fc.boolean(), { nil: undefined })
  }).filter(o => !(o.sameSite === 'none' && o.secure === false) && !(o.partitioned === true && o.secure !== true))
  const request = fc.record({
    https: fc.boolean(),
    // requests close together (the Expires text is reused within a second) and far apart
    step: fc.oneof(fc.integer({ min: 0, max: 2_500 }), fc.integer({ min: 0, max: 90 * 86_400_000 })),
    lifetime: fc.option(fc.oneof(fc.integer({ min: -5_000, max: 400 * 86_400_000 }), fc.constantFrom(900_000, 3_600_000)), { nil: null })
  })

  fc.assert(fc.property(options, fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }), fc.array(request, { minLength: 1, maxLength: 12 }), (o, start, requests) => {
    const { cookieName, ...cookie } = o
    const resolved = resolveOptions({ secret: SECRET, schema: z.object({}), store: new MemoryStore(), cookieName, cookie } as never)
    const sessionCookie = new SessionCookie(resolved as never, codec)
    let joinedCalls = 0
    let now = start
    for (const r of requests) {
      now += r.step
      const req = { protocol: r.https ? 'https' : 'http' } as FastifyRequest
      const expiresAt = r.lifetime === null ? null : now + r.lifetime
      const before = serializerCalls
      const joined = sessionCookie.serialize(req, 'AbCdEfGhIjKlMnOpQrStUv', 'x'.repeat(43), expiresAt, now)
      joinedCalls += serializerCalls - before
      // overrides (even none) always go through the serializer
      const serialized = sessionCookie.serialize(req, 'AbCdEfGhIjKlMnOpQrStUv', 'x'.repeat(43), expiresAt, now, {})
      if (joined !== serialized) throw new Error(`${joined}\n!==\n${serialized}`)
    }
    // only the first request of each shape (Max-Age or not, Secure or not) is compared with the serializer (its value and a probe)
    if (joinedCalls > 2 * Math.min(4, requests.length)) throw new Error(`the serializer ran ${joinedCalls} times for ${requests.length} joined values`)
  }), { numRuns: 500 })
  t.pass('500 option sets, up to 12 requests each')
})

t.test('a serializer that writes differently is used from then on (the first request of each shape is compared)', async t => {
  let calls = 0
  const codec = {
    serialize: (name: string, value: string, attributes?: object) => { calls++; return `${name}=${value}; odd=${JSON.stringify(attributes).length}` },
    parse: () => ({})
  }
  const resolved = resolveOptions({ secret: SECRET, schema: z.object({}), store: new MemoryStore() } as never)
  const cookie = new SessionCookie(resolved as never, codec)
  const req = { protocol: 'http' } as FastifyRequest
  for (let i = 0; i < 3; i++) t.match(cookie.serialize(req, 'id', 'x'.repeat(43), Date.now() + 60_000, Date.now()), /; odd=\d+$/)
  t.ok(calls >= 3, 'every request asked the serializer once the joined value differed')
})

t.test('a serializer that percent-encodes what `cookie` 2 writes as it is (cookie 0.x, 1.x) keeps every value, whatever value came first', async t => {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.ready()
  t.teardown(async () => { await app.close() })
  const codec = { serialize: (name: string, value: string, o?: object) => app.serializeCookie(name, value, { ...o, encode: encodeURIComponent }), parse: app.parseCookie }
  const signer = (plain: boolean) => ({ sign: (v: string) => `${v}.${plain ? 'abc' : 'a+b/c'}`, unsign: () => ({ valid: false, renew: false, value: null }) })
  for (const firstPlain of [true, false]) {
    const resolved = resolveOptions({ secret: SECRET, schema: z.object({}), store: new MemoryStore() } as never)
    let plain = firstPlain
    const cookie = new SessionCookie({ ...resolved, signer: { sign: (v: string) => signer(plain).sign(v), unsign: signer(plain).unsign } } as never, codec)
    const req = { protocol: 'http' } as FastifyRequest
    const now = Date.now()
    for (let i = 0; i < 4; i++) {
      plain = i % 2 === 0 ? firstPlain : !firstPlain
      const value = cookie.serialize(req, 'id', 'x'.repeat(43), now + 60_000, now)
      t.equal(value, codec.serialize('session_id', `id.${'x'.repeat(43)}.${plain ? 'abc' : 'a+b/c'}`, { path: '/', httpOnly: true, sameSite: 'lax', secure: false, maxAge: 60, expires: new Date(now + 60_000) }))
    }
  }
})

t.test('an expiry the serializer refuses (Max-Age past 2^53, Expires past 9999) is refused the same before and after the shape was joined', async t => {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.ready()
  t.teardown(async () => { await app.close() })
  const resolved = resolveOptions({ secret: SECRET, schema: z.object({}), store: new MemoryStore() } as never)
  const cookie = new SessionCookie(resolved as never, { serialize: app.serializeCookie, parse: app.parseCookie })
  const req = { protocol: 'http' } as FastifyRequest
  const now = Date.now()
  t.throws(() => cookie.serialize(req, 'id', 'x'.repeat(43), now + 1e16, now), /cookie expires is invalid/, 'before')
  t.match(cookie.serialize(req, 'id', 'x'.repeat(43), now + 60_000, now), /; Max-Age=60; /, 'the shape joined')
  t.throws(() => cookie.serialize(req, 'id', 'x'.repeat(43), now + 1e16, now), /cookie expires is invalid/, 'after')
  t.throws(() => cookie.serialize(req, 'id', 'x'.repeat(43), now + 1e300, now), /cookie maxAge is invalid/)
})
