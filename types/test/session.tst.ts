import Fastify, { type FastifyRequest } from 'fastify'
import { z } from 'zod'
import { expect, test } from 'tstyche'
import fastifyZodSession, { MemoryStore, errorCodes, type SessionStore, type SessionStats, type Session, type RequestSessionStore, type StoredSessionView, type LegacyStore, type EncryptionOptions } from 'fastify-zod-session'
import { RedisStore } from 'fastify-zod-session/stores/redis'
import { MemcachedStore } from 'fastify-zod-session/stores/memcached'
import { FileStore } from 'fastify-zod-session/stores/file'
import { DirectoryStore } from 'fastify-zod-session/stores/directory'
import { Redis, Cluster } from 'ioredis'
import { Redis as Redis6, Cluster as Cluster6 } from 'ioredis6'
import { createClient, createCluster } from 'redis'
import { createClient as createClient4, createCluster as createCluster4 } from 'redis4'
import { createClient as createClient6, createCluster as createCluster6 } from 'redis6'
import { MySQLStore } from 'fastify-zod-session/stores/mysql'
import { MongoStore, type SessionCollection, type SessionDocument } from 'fastify-zod-session/stores/mongodb'
import { createPool } from 'mysql2/promise'
import { MongoClient, type Collection } from 'mongodb'
import { EventEmitter } from 'node:events'
import { RedisStore as ConnectRedisStore } from 'connect-redis'

const SessionSchema = z.object({
  userId: z.string().optional(),
  visits: z.number().int().default(0),
  seenAt: z.date().optional(),
  cart: z.array(z.object({ sku: z.string(), qty: z.number() })).default([])
})

declare module 'fastify-zod-session' {
  interface SessionRegister { schema: typeof SessionSchema }
}

const app = Fastify()

test('the registered schema types request.session.get/set/data', () => {
  app.get('/', async (request) => {
    expect(request.session.get('visits')).type.toBe<number>()
    expect(request.session.get('userId')).type.toBe<string | undefined>()
    expect(request.session.get('seenAt')).type.toBe<Date | undefined>()
    expect(request.session.data.cart).type.toBe<Array<{ sku: string, qty: number }>>()
    expect(request.session.data).type.toBe<z.output<typeof SessionSchema>>()
    expect(request.session).type.toBe<Session<z.output<typeof SessionSchema>>>()
    expect(request.session.id).type.toBe<string>()
    expect(request.session.set('visits', 1)).type.toBe<void>()
    expect(request.session.update('visits', n => n + 1)).type.toBe<number>()
    expect(request.session.update('cart', cart => [...cart, { sku: 'a', qty: 1 }])).type.toBe<Array<{ sku: string, qty: number }>>()
    expect(request.session.update).type.not.toBeCallableWith('visits', (n: number) => String(n))
    expect(request.session.update).type.not.toBeCallableWith('nope', (n: number) => n)
    expect(request.session.update).type.not.toBeCallableWith('visits', async (n: number) => n + 1)
    return {}
  })
})

test('lifecycle calls are promises; durations are typed', () => {
  app.get('/', async (request) => {
    expect(request.session.regenerate()).type.toBe<Promise<void>>()
    expect(request.session.regenerate(['cart'])).type.toBe<Promise<void>>()
    expect(request.session.destroy()).type.toBe<Promise<void>>()
    expect(request.session.save()).type.toBe<Promise<void>>()
    expect(request.session.reload()).type.toBe<Promise<void>>()
    expect(request.session.refresh).type.toBeCallableWith({ idleTimeout: '30d' })
    expect(request.session.refresh).type.not.toBeCallableWith({ idleTimeout: '30 days' })
    expect(request.session.regenerate).type.not.toBeCallableWith(['nope'])
    return {}
  })
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, storeTimeout: '2s' })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, storeTimeout: '2 seconds' })
})

test('step-up freshness is typed: authenticatedAt, isFresh and the route option', () => {
  app.get('/', async (request) => {
    expect(request.session.authenticatedAt).type.toBe<Date | null>()
    expect(request.session.isFresh('5m')).type.toBe<boolean>()
    expect(request.session.isFresh).type.not.toBeCallableWith('five minutes')
    return {}
  })
  expect(app.post).type.toBeCallableWith('/email', { config: { session: { fresh: '5m' } } }, async () => ({}))
  expect(app.post).type.toBeCallableWith('/email', { config: { session: { fresh: 300 } } }, async () => ({}))
  expect(app.post).type.not.toBeCallableWith('/email', { config: { session: { fresh: '5 minutes' } } }, async () => ({}))
})

test('event handlers are typed per event', () => {
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, events: { revoked: (e: { type: 'revoked', count?: number }) => e.count } })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, events: { loggedIn: () => {} } })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, events: { created: (e: { type: 'destroyed' }) => e.type } })
})

test('the @fastify/session surface is typed', () => {
  app.get('/', async (request) => {
    expect(request.session.cookie.maxAge).type.toBe<number | null>()
    expect(request.session.cookie.expires).type.toBe<Date | null>()
    expect(request.session.isModified()).type.toBe<boolean>()
    expect(request.session.encryptedSessionId).type.toBe<string>()
    expect(request.sessionStore).type.toBe<RequestSessionStore>()
    expect(request.sessionStore.get('id')).type.toBe<Promise<StoredSessionView | null>>()
    expect(request.sessionStore.destroy).type.toBeCallableWith('id', (_err?: Error) => {})
    expect(request.sessionStore.set).type.toBeCallableWith(request.session.sessionId, { userId: 'x' }, (_err?: Error) => {})
    expect(app.sessionStore).type.toBe<SessionStore>()
    return {}
  })
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, algorithm: 'sha512', idGenerator: (request: FastifyRequest) => `${request.ip}-${Date.now()}` })
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: { sign: (v: string) => v, unsign: (v: string) => ({ valid: true, renew: false, value: v }) }, schema: SessionSchema })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, idGenerator: () => 42 })
  expect(app.decryptSession).type.toBeCallableWith('value', {} as never, (_err?: Error | null) => {})
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, rolling: true })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, rolling: false })
})

test('misuse is a compile error', () => {
  app.get('/', async (request) => {
    expect(request.session.set).type.not.toBeCallableWith('visits', 'many')
    expect(request.session.set).type.not.toBeCallableWith('nope', 1)
    expect(request.session.get).type.not.toBeCallableWith('nope')
    expect(request.session.unset).type.not.toBeCallableWith('nope')
    return {}
  })
})

test('the schema option is typed against the registered schema', () => {
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: z.object({ other: z.boolean() }) })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { schema: SessionSchema })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, idleTimeout: '15 minutes' })
  app.register(fastifyZodSession, {
    secret: ['x'.repeat(32), 'y'.repeat(32)],
    schema: SessionSchema,
    store: new MemoryStore({ maxEntries: 10 }),
    idleTimeout: '15m',
    absoluteTimeout: 3600,
    rotationInterval: null,
    bind: { ip: 'subnet', userAgent: true },
    owner: (data) => {
      expect(data.userId).type.toBe<string | undefined>()
      return data.userId
    }
  })
})

test('the encryption option: a key ring of ids and 32-byte keys (a string or bytes)', () => {
  const base = { secret: 'x'.repeat(32), schema: SessionSchema }
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { ...base, encryption: { keys: [{ id: 'k2', key: 'base64-or-hex' }, { id: 'k1', key: Buffer.alloc(32) }] } })
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { ...base, encryption: { keys: [{ id: 'k1', key: new Uint8Array(32) }], acceptPlaintext: true } })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { ...base, encryption: { keys: ['just-a-key'] } })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { ...base, encryption: { keys: [{ key: 'no-id' }] } })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { ...base, encryption: { key: 'not a ring' } })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { ...base, encryption: { keys: [{ id: 'k1', key: 'k' }], acceptPlaintext: 'yes' } })
  expect<EncryptionOptions['keys'][number]>().type.toBe<{ id: string, key: string | Uint8Array }>()
})

test('store takes a SessionStore or a storage URL string, nothing else', () => {
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, store: 'redis://localhost:6379/0' })
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, store: process.env.SESSION_STORE_URL ?? 'memory://' })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, store: 6379 })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret: 'x'.repeat(32), schema: SessionSchema, store: { get: async () => undefined } })
})

test('the optional operator methods of a store', () => {
  expect(app.sessionStore.stats).type.toBe<(() => Promise<SessionStats>) | undefined>()
  expect(new DirectoryStore({ path: '/tmp/s' }).prune).type.toBeCallableWith({ onProgress: (done: number, total: number) => done < total })
})

test('fastify decorations and exports', () => {
  expect(app.sessionStore).type.toBe<SessionStore>()
  expect(app.sessions.revoke('alice', { except: 'id' })).type.toBe<Promise<number>>()
  expect(new errorCodes.FST_SESSION_STORE_UNAVAILABLE('x').code).type.toBe<'FST_SESSION_STORE_UNAVAILABLE'>()
})

test('every store is a SessionStore, and their options are checked', () => {
  expect(new RedisStore({ client: new Redis() })).type.toBeAssignableTo<SessionStore>()
  expect(new MemcachedStore({ servers: ['127.0.0.1:11211'] })).type.toBeAssignableTo<SessionStore>()
  expect(new FileStore({ path: '/tmp/s.jsonl' })).type.toBeAssignableTo<SessionStore>()
  expect(new DirectoryStore({ path: '/tmp/s' })).type.toBeAssignableTo<SessionStore>()
  expect(new MySQLStore({ pool: createPool({}) })).type.toBeAssignableTo<SessionStore>()
  expect(new MongoStore({ client: new MongoClient('mongodb://localhost'), db: 'app' })).type.toBeAssignableTo<SessionStore>()
  expect(RedisStore).type.not.toBeConstructableWith({ client: 'redis://localhost' })
  expect(MySQLStore).type.not.toBeConstructableWith({ pool: createPool({}).pool })
  expect(DirectoryStore).type.not.toBeConstructableWith({ folder: '/tmp/s' })
})

test('RedisStore takes ioredis v5 and v6 and node-redis v4, v5 and v6 clients and clusters, nothing else', () => {
  expect(RedisStore).type.toBeConstructableWith({ client: new Redis() })
  expect(RedisStore).type.toBeConstructableWith({ client: new Cluster([]) })
  expect(RedisStore).type.toBeConstructableWith({ client: new Redis6() })
  expect(RedisStore).type.toBeConstructableWith({ client: new Cluster6([]) })
  expect(RedisStore).type.toBeConstructableWith({ client: createClient() })
  expect(RedisStore).type.toBeConstructableWith({ client: createClient({ RESP: 3 }) })
  expect(RedisStore).type.toBeConstructableWith({ client: createCluster({ rootNodes: [] }) })
  expect(RedisStore).type.toBeConstructableWith({ client: createClient4() })
  expect(RedisStore).type.toBeConstructableWith({ client: createCluster4({ rootNodes: [] }) })
  expect(RedisStore).type.toBeConstructableWith({ client: createClient6() })
  expect(RedisStore).type.toBeConstructableWith({ client: createCluster6({ rootNodes: [] }) })
  expect(RedisStore).type.not.toBeConstructableWith({ client: { sendCommand: async () => null } })
  expect(RedisStore).type.toBeConstructableWith({ client: new Redis(), layout: 'fields' })
  expect(RedisStore).type.not.toBeConstructableWith({ client: new Redis(), layout: 'wide' })
})

test('a real mongodb Collection has the surface MongoStore uses (the test fake mirrors it)', () => {
  expect<Collection<SessionDocument>>().type.toBeAssignableTo<SessionCollection>()
  expect(MongoStore).type.toBeConstructableWith({ collection: new MongoClient('mongodb://localhost').db().collection<SessionDocument>('sessions') })
})

// @types/express-session's Store, copied as it is (the package is not installed here): connect-pg-simple's
// PGStore extends it, and so do connect-redis's and most express-session stores. Its session type is an
// interface (no index signature), so it is not a Record<string, unknown>.
declare class ExpressCookie {
  originalMaxAge: number | null
  maxAge?: number
  signed?: boolean
  expires?: Date | null | undefined
  httpOnly?: boolean
  path?: string
  domain?: string | undefined
  secure?: boolean | 'auto'
  sameSite?: boolean | 'lax' | 'strict' | 'none'
  serialize (name: string, value: string): string
}
interface ExpressSessionData { cookie: ExpressCookie }
declare abstract class ExpressStore extends EventEmitter {
  regenerate (req: object, callback: (err?: any) => any): void
  load (sid: string, callback: (err: any, session?: ExpressSessionData) => any): void
  createSession (req: object, session: ExpressSessionData): ExpressSessionData
  get (sid: string, callback: (err: any, session?: ExpressSessionData | null) => void): void
  set (sid: string, session: ExpressSessionData, callback?: (err?: any) => void): void
  destroy (sid: string, callback?: (err?: any) => void): void
  all? (callback: (err: any, obj?: ExpressSessionData[] | { [sid: string]: ExpressSessionData } | null) => void): void
  length? (callback: (err: any, length?: number) => void): void
  clear? (callback?: (err?: any) => void): void
  touch? (sid: string, session: ExpressSessionData, callback?: () => void): void
}
// @types/connect-pg-simple's PGStore
declare class PGStore extends ExpressStore {
  constructor (options?: { tableName?: string, conString?: string })
  close (): void
  pruneSessions (callback?: (err: Error) => void): void
}

test('legacy.store takes an express-session store (connect-pg-simple, connect-redis) without a cast', () => {
  const secret = 'x'.repeat(32)
  expect(new PGStore()).type.toBeAssignableTo<LegacyStore>()
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret, schema: SessionSchema, legacy: { secret: 'old', store: new PGStore() } })
  expect(app.register).type.toBeCallableWith(fastifyZodSession, { secret, schema: SessionSchema, legacy: { secret: 'old', store: new ConnectRedisStore({ client: createClient() }) } })
  // a store whose get() hands back something that is no session at all is still refused
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret, schema: SessionSchema, legacy: { secret: 'old', store: { get: (sid: string, cb: (err: unknown, session?: string) => void) => { cb(null, sid) } } } })
  expect(app.register).type.not.toBeCallableWith(fastifyZodSession, { secret, schema: SessionSchema, legacy: { secret: 'old', store: {} } })
})
