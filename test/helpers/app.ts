import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { MemoryStore, type FastifyZodSessionOptions } from '../../lib/index.js'
import type { Test } from 'tap'

export const SECRET = 'a-very-long-secret-with-more-than-32-chars'
export const OLD_SECRET = 'an-older-secret-that-is-also-32-chars-long'

export const TestSchema = z.object({
  userId: z.string().optional(),
  visits: z.number().int().default(0),
  cart: z.array(z.object({ sku: z.string(), qty: z.number().int().positive() })).default([]),
  seenAt: z.date().optional(),
  a: z.string().optional(),
  b: z.string().optional()
}).catchall(z.unknown())

export type BuildOptions = Partial<FastifyZodSessionOptions> & { fastify?: FastifyServerOptions }

/** A Fastify app with the plugin and a few routes that read and write the session. */
export async function buildApp (t: Test, options: BuildOptions = {}, routes?: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const { fastify: fastifyOptions, ...sessionOptions } = options
  const app = Fastify(fastifyOptions)
  await app.register(fastifyZodSession, { secret: SECRET, schema: TestSchema, ...sessionOptions } as FastifyZodSessionOptions)
  app.get('/read', async (request) => ({ visits: request.session.get('visits'), userId: request.session.get('userId') ?? null, isNew: request.session.isNew }))
  app.post('/visit', async (request) => {
    request.session.set('visits', (request.session.get('visits') as number) + 1)
    return { visits: request.session.get('visits') }
  })
  app.post('/set/:key/:value', async (request) => {
    const { key, value } = request.params as { key: string, value: string }
    request.session.set(key, value)
    return { ok: true }
  })
  app.post('/login/:user', async (request) => {
    await request.session.regenerate()
    request.session.set('userId', (request.params as { user: string }).user)
    return { ok: true }
  })
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { ok: true }
  })
  routes?.(app)
  await app.ready()
  t.teardown(() => app.close())
  return app
}

/** the session id in a `session_id=<id>.<secret>.<signature>` cookie pair */
export const idOf = (cookie: string): string => cookie.split('=')[1].split('.')[0]

/** The `name=value` pair of a response's session Set-Cookie, or undefined. */
export function sessionCookie (res: { headers: Record<string, unknown> }, name = 'session_id'): string | undefined {
  const header = res.headers['set-cookie']
  const list = header === undefined ? [] : Array.isArray(header) ? header : [header]
  const found = (list as string[]).find(c => c.startsWith(name + '='))
  return found?.split(';')[0]
}

export function rawSetCookie (res: { headers: Record<string, unknown> }): string[] {
  const header = res.headers['set-cookie']
  return header === undefined ? [] : Array.isArray(header) ? header : [header as string]
}

/** An app on a MemoryStore with `schema`, its routes (and other plugins) added by `setup`, closed when the test ends. */
export async function appWith (t: Test, schema: z.ZodType, setup: (app: FastifyInstance) => Promise<void>): Promise<{ app: FastifyInstance, store: MemoryStore }> {
  const store = new MemoryStore()
  const app = Fastify()
  await app.register(fastifyZodSession, { secret: SECRET, schema: schema as never, store })
  await setup(app)
  await app.ready()
  t.teardown(() => app.close())
  return { app, store }
}
