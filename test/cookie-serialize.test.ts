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
    // only the first request of each shape (Max-Age or not, Secure or not) is compared with the serializer
    if (joinedCalls > Math.min(4, requests.length)) throw new Error(`the serializer ran ${joinedCalls} times for ${requests.length} joined values`)
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
