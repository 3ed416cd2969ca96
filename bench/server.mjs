// One contender's server, run in its own process by bench/run.mjs: `node bench/server.mjs <contender> [redisPort] [dir]`
// (fzs-postgres and fastify-session-pg read FZS_BENCH_POSTGRES_URL)
// Prints {"port":N} once listening. Every contender serves /read, /write and /create with the same
// ~300-byte session: a user object and a counter.
import Fastify from 'fastify'
import { z } from 'zod'
import { join } from 'node:path'

const [contender, redisPort, dir] = process.argv.slice(2)
const SECRET = 'bench-secret-bench-secret-bench-secret-0123456789'
export const USER = {
  id: 'u_8f14e45fceea167a5a36dedd4bea2543',
  name: 'Ada Lovelace',
  email: 'ada.lovelace@example.com',
  roles: ['admin', 'editor', 'billing'],
  locale: 'en-GB',
  plan: { name: 'team', seats: 25, renewsAt: '2027-01-01T00:00:00.000Z' },
  preferences: { theme: 'dark', newsletter: false, timezone: 'Europe/London' }
}

const app = Fastify({ logger: false })
let close = async () => {}

async function redisClient () {
  const { Redis } = await import('ioredis')
  const client = new Redis({ port: Number(redisPort), host: '127.0.0.1', enableAutoPipelining: true })
  close = async () => { await client.quit() }
  return client
}

/** node-redis, as connect-redis uses it */
async function nodeRedisClient () {
  const { createClient } = await import('redis')
  const client = createClient({ url: `redis://127.0.0.1:${redisPort}` })
  await client.connect()
  close = async () => { await client.quit() }
  return client
}

function sessionRoutes (get, set) {
  app.get('/read', async (request) => ({ user: get(request, 'user') ?? null, counter: get(request, 'counter') ?? 0 }))
  app.get('/write', async (request) => {
    const counter = (get(request, 'counter') ?? 0) + 1
    set(request, 'counter', counter)
    return { counter }
  })
  app.get('/create', async (request) => {
    set(request, 'user', USER)
    set(request, 'counter', 0)
    return { ok: true }
  })
}

async function fastifyZodSession (store, extra = {}) {
  const { default: plugin } = await import('../dist/esm/lib/index.js')
  const schema = z.object({
    user: z.object({
      id: z.string(),
      name: z.string(),
      email: z.string(),
      roles: z.array(z.string()),
      locale: z.string(),
      plan: z.object({ name: z.string(), seats: z.number(), renewsAt: z.string() }),
      preferences: z.object({ theme: z.string(), newsletter: z.boolean(), timezone: z.string() })
    }).optional(),
    counter: z.number().int().optional()
  })
  await app.register(plugin, { secret: SECRET, schema, store, cookie: { secure: false }, ...extra })
  sessionRoutes((r, k) => r.session.get(k), (r, k, v) => r.session.set(k, v))
  // `--scenarios update`: /write with session.update(), every connection incrementing the one session's counter
  app.get('/update', async (request) => ({ counter: request.session.update('counter', (n) => (n ?? 0) + 1) }))
}

async function fastifySession (store) {
  const { fastifyCookie } = await import('@fastify/cookie')
  const { default: session } = await import('@fastify/session')
  await app.register(fastifyCookie)
  await app.register(session, { secret: SECRET, store, saveUninitialized: false, cookie: { secure: false, maxAge: 900_000 } })
  sessionRoutes((r, k) => r.session.get(k), (r, k, v) => r.session.set(k, v))
}

const contenders = {
  bare: async () => {
    app.get('/read', async () => ({ user: USER, counter: 0 }))
    app.get('/write', async () => ({ counter: 1 }))
    app.get('/create', async () => ({ ok: true }))
  },
  'signed-cookie': async () => {
    const { fastifyCookie } = await import('@fastify/cookie')
    await app.register(fastifyCookie, { secret: SECRET })
    const read = (request) => {
      const raw = request.cookies.sid
      return raw === undefined ? null : request.unsignCookie(raw)
    }
    // same response bodies as the session contenders, so the difference is the session machinery alone
    app.get('/read', async (request) => ({ user: read(request)?.valid === true ? USER : null, counter: 0 }))
    app.get('/write', async (request, reply) => {
      const value = read(request)
      reply.setCookie('sid', value?.value ?? 'x'.repeat(43), { signed: true, path: '/', httpOnly: true, sameSite: 'lax', maxAge: 900 })
      return { counter: 1 }
    })
    app.get('/create', async (_request, reply) => {
      reply.setCookie('sid', 'x'.repeat(43), { signed: true, path: '/', httpOnly: true, sameSite: 'lax', maxAge: 900 })
      return { ok: true }
    })
  },
  'fastify-session-memory': () => fastifySession(undefined),
  'fastify-session-connect-redis': async () => {
    const { RedisStore } = await import('connect-redis')
    await fastifySession(new RedisStore({ client: await nodeRedisClient() }))
  },
  'fastify-session-redis-store': async () => {
    const { RedisStore } = await import('fastify-session-redis-store')
    await fastifySession(new RedisStore({ client: await redisClient() }))
  },
  // connect-pg-simple (the second most used express-session store) on the same PostgreSQL, its default
  // "session" table, the same pool size as fzs-postgres
  'fastify-session-pg': async () => {
    const { default: pg } = await import('pg')
    const { default: connectPgSimple } = await import('connect-pg-simple')
    const { default: session } = await import('@fastify/session')
    const pool = new pg.Pool({ connectionString: process.env.FZS_BENCH_POSTGRES_URL, max: 10 })
    close = async () => { await pool.end() }
    const PgStore = connectPgSimple(session)
    await fastifySession(new PgStore({ pool, createTableIfMissing: true, pruneSessionInterval: false }))
  },
  'secure-session': async () => {
    const { default: secureSession } = await import('@fastify/secure-session')
    await app.register(secureSession, { key: Buffer.alloc(32, 7), cookie: { path: '/', httpOnly: true, secure: false, maxAge: 900 } })
    sessionRoutes((r, k) => r.session.get(k), (r, k, v) => r.session.set(k, v))
  },
  'fzs-memory': async () => {
    const { MemoryStore } = await import('../dist/esm/stores/memory.js')
    await fastifyZodSession(new MemoryStore({ maxEntries: Number(process.env.FZS_BENCH_MAX_ENTRIES ?? 2_000_000) }))
  },
  // encryption at rest: the same contenders with every value sealed (AES-256-GCM)
  'fzs-memory-encrypted': async () => {
    const { MemoryStore } = await import('../dist/esm/stores/memory.js')
    await fastifyZodSession(new MemoryStore({ maxEntries: Number(process.env.FZS_BENCH_MAX_ENTRIES ?? 2_000_000) }), { encryption: { keys: [{ id: 'bench', key: Buffer.alloc(32, 9) }] } })
  },
  'fzs-redis-encrypted': async () => {
    const { RedisStore } = await import('../dist/esm/stores/redis.js')
    await fastifyZodSession(new RedisStore({ client: await nodeRedisClient() }), { encryption: { keys: [{ id: 'bench', key: Buffer.alloc(32, 9) }] } })
  },
  // node-redis, the client connect-redis uses
  'fzs-redis': async () => {
    const { RedisStore } = await import('../dist/esm/stores/redis.js')
    await fastifyZodSession(new RedisStore({ client: await nodeRedisClient() }))
  },
  // ioredis, as fastify-session-redis-store uses it
  'fzs-ioredis': async () => {
    const { RedisStore } = await import('../dist/esm/stores/redis.js')
    await fastifyZodSession(new RedisStore({ client: await redisClient() }))
  },
  'fzs-postgres': async () => {
    const { default: pg } = await import('pg')
    const { PostgresStore } = await import('../dist/esm/stores/postgres.js')
    const pool = new pg.Pool({ connectionString: process.env.FZS_BENCH_POSTGRES_URL, max: 10 })
    close = async () => { await pool.end() }
    await fastifyZodSession(new PostgresStore({ pool }))
  },
  'fzs-directory': async () => {
    const { DirectoryStore } = await import('../dist/esm/stores/directory.js')
    await fastifyZodSession(new DirectoryStore({ path: join(dir, 'sessions') }))
  },
  'fzs-file': async () => {
    const { FileStore } = await import('../dist/esm/stores/file.js')
    await fastifyZodSession(new FileStore({ path: join(dir, 'sessions.jsonl') }))
  }
}

if (contenders[contender] === undefined) {
  console.error(`unknown contender ${contender}; one of ${Object.keys(contenders).join(', ')}`)
  process.exit(2)
}
await contenders[contender]()
await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(JSON.stringify({ port: app.server.address().port }) + '\n')
process.on('SIGTERM', async () => { await app.close(); await close(); process.exit(0) })
