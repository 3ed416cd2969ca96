import t from 'tap'
import Fastify from 'fastify'
import { z } from 'zod'
import fastifyZodSession from '../lib/index.js'
import { MemoryStore } from '../stores/memory.js'
import type { SessionStore } from '../types/index.js'
import { SECRET } from './helpers/app.js'

// A hook that sends without `return reply` (as @fastify/passport's redirects do): Fastify goes on to the
// handler, whose reply fails as already sent; the session's onSend, still waiting on the store, must not
// throw out of its promise chain (an unhandled rejection ends the process; tap fails the test on one).
t.test('a hook that sends without returning the reply: no unhandled rejection, the session is saved once', async t => {
  const inner = new MemoryStore()
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  const store: SessionStore = {
    get: id => inner.get(id),
    set: async (id, record) => { await gate; await inner.set(id, record) },
    patch: (id, change) => inner.patch(id, change),
    rotate: (id, from, auth) => inner.rotate(id, from, auth),
    touch: (id, expiresAt) => inner.touch(id, expiresAt),
    destroy: id => inner.destroy(id)
  }
  const app = Fastify()
  await app.register(fastifyZodSession, { secret: SECRET, schema: z.object({ a: z.string().optional() }) as never, store })
  app.addHook('preHandler', async (request, reply) => {
    request.session.set('a' as never, 'x' as never)
    reply.send({ early: true })
  })
  let handled!: () => void
  const handlerRan = new Promise<void>(resolve => { handled = resolve })
  app.get('/', async () => { handled(); return { late: true } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const pending = fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/`)
  await handlerRan // the handler's late reply happens while the store waits
  await new Promise(resolve => setImmediate(resolve))
  release()
  const res = await pending
  t.equal(res.status, 200)
  t.same(await res.json(), { early: true })
  t.match(res.headers.get('set-cookie') ?? '', /^session_id=/, 'the first reply carries the session')
  t.equal((await inner.stats()).sessions, 1, 'saved once')
})
