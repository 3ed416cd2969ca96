// grant's OAuth2 flow on top of this plugin, against a local authorization server: grant keeps its
// state in `request.session.grant` by property assignment.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import grant from 'grant'
import { z } from 'zod'
import fastifyZodSession, { MemoryStore } from '../lib/index.js'
import { SECRET, sessionCookie } from './helpers/app.js'

/** The provider: an authorize page (not visited: the test plays the user) and a token endpoint. */
async function provider (t: Test): Promise<{ origin: string, exchanged: string[] }> {
  const exchanged: string[] = []
  const app = Fastify()
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
  app.post('/token', async request => {
    const body = request.body as Record<string, string>
    exchanged.push(body.code)
    if (body.client_id !== 'app-id' || body.client_secret !== 'app-secret' || body.code !== 'the-code') return { error: 'invalid_grant' }
    return { access_token: 'token-for-ada', token_type: 'bearer' }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  return { origin: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`, exchanged }
}

async function appWith (t: Test, schema: z.ZodType, origin: string): Promise<{ app: FastifyInstance, store: MemoryStore }> {
  const store = new MemoryStore()
  const app = Fastify()
  await app.register(fastifyZodSession, { secret: SECRET, schema: schema as never, store })
  await app.register((grant as unknown as { fastify: () => (config: unknown) => never }).fastify()({
    defaults: { origin: 'http://app.test', transport: 'session', state: true },
    local: { authorize_url: `${origin}/authorize`, access_url: `${origin}/token`, oauth: 2, key: 'app-id', secret: 'app-secret', callback: '/done' }
  }))
  app.get('/done', async request => {
    const response = (request.session as unknown as Record<string, { response?: { access_token?: string, error?: string } }>).grant?.response
    return { token: response?.access_token ?? null, error: response?.error ?? null }
  })
  await app.ready()
  t.teardown(() => app.close())
  return { app, store }
}

for (const [name, schema] of [
  ['a permissive (catchall) schema', z.object({}).catchall(z.unknown())],
  ['a strict schema declaring grant', z.object({ grant: z.record(z.string(), z.unknown()).optional() }).strict()]
] as const) {
  t.test(`grant's OAuth2 authorization-code flow with ${name}`, async t => {
    const { origin, exchanged } = await provider(t)
    const { app } = await appWith(t, schema, origin)

    const first = await app.inject({ url: '/connect/local' })
    const forged = await app.inject({ url: '/connect/local/callback?code=the-code&state=not-it', headers: { cookie: sessionCookie(first)! } })
    const refused = await app.inject({ url: '/done', headers: { cookie: sessionCookie(forged) ?? sessionCookie(first)! } })
    t.match(refused.json(), { token: null, error: /state mismatch/ }, 'a callback with another state is refused')
    t.same(exchanged, [], 'and its code never reaches the token endpoint')

    const start = await app.inject({ url: '/connect/local' })
    t.equal(start.statusCode, 302)
    const authorize = new URL(String(start.headers.location))
    t.equal(authorize.origin + authorize.pathname, `${origin}/authorize`, 'the user is sent to the provider')
    const state = authorize.searchParams.get('state')
    t.ok(state, 'with a state grant keeps in the session')
    const cookie = sessionCookie(start)!
    t.ok(cookie, 'the state is in a saved session')

    const back = await app.inject({ url: `/connect/local/callback?code=the-code&state=${state}`, headers: { cookie } })
    t.equal(back.statusCode, 302)
    t.equal(back.headers.location, '/done')
    t.same(exchanged.filter(c => c === 'the-code').length, 1, 'the code was exchanged at the token endpoint once')
    const done = await app.inject({ url: '/done', headers: { cookie: sessionCookie(back) ?? cookie } })
    t.same(done.json(), { token: 'token-for-ada', error: null }, 'the access token is in the session')
  })
}
