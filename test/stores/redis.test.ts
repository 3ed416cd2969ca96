import t from 'tap'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { RedisStore } from '../../stores/redis.js'
import { conformance } from './conformance.js'
import { startRedis } from '../helpers/servers.js'
import { record, lifecycleRaces } from '../../testing/index.js'
import type { SessionStore } from '../../types/index.js'
import { redisCorruptions } from '../helpers/redis-corrupt.js'
import { SCRIPTS } from '../../stores/redis/scripts.js'
import { metaJson } from '../../stores/redis/hash.js'
import fc from 'fast-check'
import { createHash } from 'node:crypto'

const server = await startRedis()
t.teardown(() => server.stop())
const clients: Redis[] = []
const client = (): Redis => {
  const c = new Redis(server.url, { maxRetriesPerRequest: 1, enableOfflineQueue: true })
  clients.push(c)
  return c
}
t.teardown(async () => { await Promise.all(clients.map(c => c.quit().catch(() => c.disconnect()))) })

t.test('conformance on a real redis-server', async t => {
  const shared = client()
  conformance(t, { create: async ({ prefix }) => new RedisStore({ client: shared, prefix }), corruptions: redisCorruptions(async (...args) => await shared.call(...args as [string, ...string[]])) })
})

t.test('conformance of the fields layout (0.2\'s, for a rolling deploy from it)', async t => {
  const shared = client()
  conformance(t, { create: async ({ prefix }) => new RedisStore({ client: shared, prefix, layout: 'fields' }), corruptions: redisCorruptions(async (...args) => await shared.call(...args as [string, ...string[]])) })
})

t.test('lifecycle races where every other store call is made by a store of the other layout (a rolling deploy over 0.2)', async t => {
  const shared = client()
  let n = 0
  /** one store whose calls go in turn to a packed and a fields store on one prefix */
  const mixed = (prefix: string): SessionStore => {
    const stores = [new RedisStore({ client: shared, prefix }), new RedisStore({ client: shared, prefix, layout: 'fields' })]
    let calls = 0
    return new Proxy(stores[0], {
      get: (_target, name) => {
        const store = stores[calls++ % 2] as unknown as Record<string | symbol, unknown>
        const value = store[name]
        return typeof value === 'function' ? value.bind(store) : value
      }
    })
  }
  const probe = mixed('mixprobe:')
  await probe.set('a', record({ x: 1 }))
  await probe.set('b', record({ x: 1 }))
  t.same([await shared.hexists('mixprobe:a', '_r'), await shared.hexists('mixprobe:b', '_r')], [1, 0], 'the calls do alternate between the layouts')
  const cases = lifecycleRaces({ create: async () => mixed(`mixrace${n++}:`) })
  t.ok(cases.length > 10)
  for (const c of cases) t.test(c.name, async () => { await c.run() })
})

t.test('arguments packed (ioredis) and sent apart (node-redis) write the same bytes: NUL, non-ASCII, lone surrogates, a prefix of a surrogate pair', async t => {
  const nodeRedis = createClient({ url: server.url })
  nodeRedis.on('error', () => {})
  await nodeRedis.connect()
  t.teardown(async () => { await nodeRedis.quit().catch(() => {}) })
  const redis = client()
  const expiresAt = Date.now() + 60_000
  const data = { plain: 'a\u0000b/é😀\\ud800:,1', 'lone\ud800': 1, 'end\udbff': 'x\udbff', '\udc00start': ['\udc00'], '': 2 }
  const auth = { current: ['h'], replaced: [] }
  const hashes: Array<Record<string, Buffer>> = []
  const sets: Array<Record<string, Buffer>> = []
  for (const [name, store] of [['packed', new RedisStore({ client: redis, prefix: '😀p:' })], ['apart', new RedisStore({ client: nodeRedis, prefix: '😀a:' })]] as const) {
    for (const layout of ['packed', 'fields'] as const) {
      const each = new RedisStore({ client: name === 'packed' ? redis : nodeRedis, prefix: `😀${name}${layout}:`, layout })
      t.equal(await each.create('s', { data, createdAt: 5, expiresAt, version: 0, auth, meta: { ip: '::1', userAgent: 'ua\ud800' } }), true)
      t.equal(await each.patch('s', { set: { 'lone\ud801': 2, plain: 'x\u0000é', '\udc01': 3 }, unset: ['lone\ud800'], meta: { lastAccessAt: 7 } }), 'ok')
      t.equal(await each.create('s', { data: {}, createdAt: 5, expiresAt, version: 0, auth, meta: {} }), false)
      hashes.push(await redis.hgetallBuffer(`😀${name}${layout}:s`))
      t.equal(await each.touch('s', expiresAt + 1000), true, 'touch finds it (the prefix in _r matches)')
    }
    // set() runs another script than create(): the default layout's hash of each client, compared below
    await store.set('t', { data, createdAt: 5, expiresAt, version: 0, auth, meta: { ip: '::1' } })
    sets.push(await redis.hgetallBuffer(`😀${name[0]}:t`))
  }
  const fields = (hash: Record<string, Buffer>, drop: string): Array<[string, string]> =>
    Object.entries(hash).map(([k, v]): [string, string] => [k, v.toString('hex')]).filter(([k]) => k !== drop).sort()
  // the prefix differs (it is in _r, or in _p): compare the rest byte for byte, and the prefix apart
  t.same(fields(hashes[0], '_r'), fields(hashes[2], '_r'), 'packed layout: the same fields, byte for byte')
  t.same(fields(hashes[1], '_p'), fields(hashes[3], '_p'), 'fields layout: the same fields, byte for byte')
  t.same(JSON.parse(hashes[0]._r.toString()).slice(2), JSON.parse(hashes[2]._r.toString()).slice(2))
  t.ok(sets[0]._r !== undefined && sets[0]['d:plain'] !== undefined, 'set() wrote a packed hash')
  t.same(fields(sets[0], '_r'), fields(sets[1], '_r'), 'set(): the same fields, byte for byte')
  t.same(JSON.parse(sets[0]._r.toString()).slice(2), JSON.parse(sets[1]._r.toString()).slice(2))
  const back = await new RedisStore({ client: redis, prefix: '😀packedpacked:' }).get('s')
  // Redis holds UTF-8: a lone surrogate in a key comes back as U+FFFD (so 'lone\ud801' set and
  // 'lone\ud800' unset name one field, and the unset wins, with either client); in a value it is JSON-escaped
  t.same(back?.data, { '': 2, '\ufffdstart': ['\udc00'], '\ufffd': 3, plain: 'x\u0000é', 'end\ufffd': 'x\udbff' })
})

t.test('a data key holding a NUL (the packing\'s separator, which JSON never holds raw) goes apart and comes back as written; any other goes packed', async t => {
  const redis = client()
  const sent: number[] = []
  const call = redis.call.bind(redis) as (...args: string[]) => Promise<unknown>
  // EVALSHA, the sha, the key count, the key, then ARGV
  redis.call = ((...args: string[]) => { if (args[0] === 'EVALSHA' || args[0] === 'EVAL') sent.push(args.length - 4); return call(...args) }) as typeof redis.call
  const expiresAt = Date.now() + 60_000
  const auth = { current: ['h'], replaced: [] }
  for (const layout of ['packed', 'fields'] as const) {
    const store = new RedisStore({ client: redis, prefix: `nul${layout}:`, layout })
    for (const [name, key] of [['plain', 'k'], ['a NUL', 'a\u0000b'], ['a NUL at the end', 'a\u0000'], ['only a NUL', '\u0000']] as const) {
      for (const [i, write] of [
        async (id: string) => await store.create(id, { data: { [key]: 'v\u0000', other: 1 }, createdAt: 5, expiresAt, version: 0, auth, meta: { ip: '::1' } }),
        async (id: string) => await store.set(id, { data: { [key]: 'v\u0000', other: 1 }, createdAt: 5, expiresAt, version: 0, auth, meta: { ip: '::1' } })
      ].entries()) {
        const id = `${name}${i}`
        sent.length = 0
        await write(id)
        t.equal(await store.patch(id, { set: { [key]: ['w'] }, unset: ['other'], meta: { lastAccessAt: 7 } }), 'ok')
        t.equal(sent.length, 2, 'a write and a patch, one script each')
        if (key === 'k') t.same(sent, [2, 2], `${layout}: packed in two`)
        else t.ok(sent.every(n => n >= 5), `${layout}, ${name}: sent apart (${sent.join(', ')} arguments)`)
        const back = await store.get(id)
        t.same(back?.data, { [key]: ['w'] }, `${layout}, ${name}: reads back as written`)
        t.equal(back?.version, 1)
      }
    }
  }
})

t.test('a Redis-compatible server without Lua\'s struct library: the scripts split packed arguments in Lua and write the same hashes', async t => {
  const redis = client()
  const plain = client()
  const variants = new Map<string, string>()
  for (const text of Object.values(SCRIPTS)) {
    if (!text.includes("rawget(_G, 'struct')")) continue
    variants.set(createHash('sha1').update(text).digest('hex'), text.replace("rawget(_G, 'struct')", 'nil'))
  }
  t.equal(variants.size, 3, 'set, create and patch split packed arguments')
  let replaced = 0
  const call = redis.call.bind(redis) as (...args: string[]) => Promise<unknown>
  redis.call = ((...args: string[]) => {
    const text = args[0] === 'EVALSHA' ? variants.get(args[1]) : undefined
    if (text === undefined) return call(...args)
    replaced++
    return call('EVAL', text, ...args.slice(2))
  }) as typeof redis.call
  const expiresAt = Date.now() + 60_000
  const auth = { current: ['h'], replaced: [] }
  const many: Record<string, unknown> = {}
  for (let i = 0; i < 9000; i++) many[`k${i}`] = i % 3 === 0 ? '' : i
  const hashes: Array<Array<Array<[string, string]>>> = []
  for (const c of [redis, plain]) {
    const each: Array<Array<[string, string]>> = []
    for (const layout of ['packed', 'fields'] as const) {
      const store = new RedisStore({ client: c, prefix: `nostruct${c === redis ? 'y' : 'n'}${layout}:`, layout })
      for (const [id, data] of [['small', { a: '', 'é😀': [1], b: { c: null } }], ['many', many]] as const) {
        await store.set(id, { data, createdAt: 5, expiresAt, version: 0, auth, meta: { ip: '', owner: 'o' } })
        t.equal(await store.create(`${id}2`, { data, createdAt: 5, expiresAt: null, version: 0, auth, meta: {} }), true)
        t.equal(await store.patch(id, { set: { a: 'x', z: '' }, unset: ['k1', 'b'], meta: { lastAccessAt: 9, userAgent: '' } }), 'ok')
        for (const key of [id, `${id}2`]) {
          const hash = await plain.hgetall(`nostruct${c === redis ? 'y' : 'n'}${layout}:${key}`)
          each.push(Object.entries(hash).filter(([k]) => k !== '_r' && k !== '_p').sort())
        }
      }
    }
    hashes.push(each)
  }
  t.ok(replaced >= 12, `the scripts ran without struct (${replaced} calls)`)
  t.same(hashes[0], hashes[1], 'the same fields and values, with struct and without')
  t.equal(hashes[0][3].length, 9001, 'the packed session of 9,000 keys created: 9,000 fields and _h')
  t.equal(hashes[0][2].length, 9002, 'and the one patched: 9,001 fields (k1 unset, a and z set) and _h')
})

t.test('layout: one hash per session, a field per data key and the rest packed in _r, PEXPIREAT on the key', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'layout:' })
  const expiresAt = Date.now() + 60_000
  await store.set('abc', { data: { user: { id: 1 }, n: 2 }, createdAt: 5, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: { ip: '::1', owner: 'o' } })
  const hash = await redis.hgetall('layout:abc')
  t.same(Object.keys(hash).sort(), ['_h', '_r', 'd:n', 'd:user'])
  t.equal(hash._h, `0 ${'user{"id":1}n2'.length} ${expiresAt} `, 'version, size, expiry, no lastAccessAt')
  t.same(JSON.parse(hash._r), ['5', 'layout:', '{"current":["h"],"replaced":[]}', { ip: '"::1"', owner: '"o"' }])
  t.equal(await store.patch('abc', { set: { n: 3 }, unset: [], meta: { lastAccessAt: 1796618208615 } }), 'ok')
  t.equal(await redis.hget('layout:abc', '_h'), `1 ${'user{"id":1}n3'.length} ${expiresAt} 1796618208615`)
  t.equal(await redis.hget('layout:abc', '_r'), hash._r, 'a write of data and lastAccessAt leaves _r as it was')
  t.equal(await redis.pexpiretime('layout:abc'), expiresAt)
  t.same(await redis.smembers('layout:owner:o'), ['abc'])
  t.ok(await redis.pttl('layout:owner:o') > 0, 'the owner index expires with its sessions')
})

t.test('set() and create() replace a key of another type where a session should be (corrupt), in both layouts, with both clients', async t => {
  const redis = client()
  const node = createClient({ url: server.url })
  await node.connect()
  t.teardown(async () => { await node.quit() })
  const kinds: Array<[string, (key: string) => Promise<unknown>]> = [
    ['a string', async k => await redis.set(k, 'not a hash')],
    ['a list', async k => await redis.rpush(k, 'a', 'b')],
    ['a set', async k => await redis.sadd(k, 'a')]
  ]
  let n = 0
  for (const [name, c] of [['ioredis', redis], ['node-redis', node]] as const) {
    for (const layout of ['packed', 'fields'] as const) {
      const store = new RedisStore({ client: c, prefix: 'other:', layout })
      for (const [kind, make] of kinds) {
        for (const method of ['set', 'create'] as const) {
          const id = `k${n++}`
          await make(`other:${id}`)
          const written = record({ a: 1 }, { meta: { owner: 'ann' } })
          const answer = await store[method](id, written)
          if (method === 'create') t.equal(answer, true, `${name} ${layout}, ${kind}: create() writes`)
          t.equal(await redis.type(`other:${id}`), 'hash', `${name} ${layout}, ${kind}: ${method}() left a hash`)
          t.same((await store.get(id))?.data, { a: 1 }, `${name} ${layout}, ${kind}: ${method}() reads back`)
        }
      }
    }
  }
})

t.test('layout \'fields\': 0.2\'s hash, a field per data key and per meta field', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'fields:', layout: 'fields' })
  const expiresAt = Date.now() + 60_000
  await store.set('abc', { data: { user: { id: 1 }, n: 2 }, createdAt: 5, expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: { ip: '::1', owner: 'o' } })
  t.same(Object.keys(await redis.hgetall('fields:abc')).sort(), ['_a', '_b', '_c', '_e', '_p', '_v', 'd:n', 'd:user', 'm:ip', 'm:owner'])
  t.equal(await redis.pexpiretime('fields:abc'), expiresAt)
  t.throws(() => new RedisStore({ client: redis, layout: 'wide' as never }), /`layout` must be 'packed' or 'fields', not "wide"/)
})

t.test('two layouts on one Redis (a rolling deploy from 0.2): each store reads, patches, rotates, touches, lists and destroys the other\'s sessions, and a hash keeps its layout', async t => {
  const redis = client()
  const packed = new RedisStore({ client: redis, prefix: 'mixed:' })
  const fields = new RedisStore({ client: redis, prefix: 'mixed:', layout: 'fields' })
  const expiresAt = Date.now() + 60_000
  for (const [writer, other, id] of [[packed, fields, 'p'], [fields, packed, 'f']] as const) {
    await writer.set(id, record({ user: { id: 1 }, n: 2 }, { expiresAt, meta: { ip: '::1', owner: 'o', createdAtHr: 1796618208616.4531 } }))
    const before = Object.keys(await redis.hgetall(`mixed:${id}`)).sort()
    t.same((await other.get(id))?.data, { user: { id: 1 }, n: 2 }, `${id}: read by the other layout`)
    t.equal(await other.patch(id, { set: { n: 3 }, unset: ['user'], meta: { lastAccessAt: 7, ip: undefined }, ifVersion: 0, maxBytes: 100 }), 'ok')
    t.equal(await other.patch(id, { set: { n: 4 }, unset: [], ifVersion: 0 }), 'conflict', 'the version went up')
    t.equal(await other.patch(id, { set: { n: 4 }, unset: [], unlessWrittenAfter: 6 }), 'conflict', 'the fence reads meta.lastAccessAt')
    t.equal(await other.patch(id, { set: { big: 'x'.repeat(200) }, unset: [], maxBytes: 100 }), 'too-large', 'the size went with the changed keys')
    t.equal(await other.rotate(id, 'h-current', { current: ['h2'], replaced: [['h-current', 9]] }), true)
    t.equal(await other.touch(id, expiresAt + 1000), true)
    const got = await writer.get(id)
    t.same(got?.data, { n: 3 })
    t.same(got?.meta, { owner: 'o', createdAtHr: 1796618208616.4531, lastAccessAt: 7 }, 'meta merged, a removed field gone, 16 digits kept')
    t.equal(got?.version, 1)
    t.equal(got?.expiresAt, expiresAt + 1000)
    t.same(got?.auth, { current: ['h2'], replaced: [['h-current', 9]] })
    const after = Object.keys(await redis.hgetall(`mixed:${id}`)).sort()
    const own = (fields: string[]): string[] => fields.filter(f => !f.startsWith('d:'))
    t.same(own(after), id === 'p' ? ['_h', '_r'] : [...own(before).filter(f => f !== 'm:ip'), 'm:lastAccessAt'].sort(), `${id}: the hash kept its layout`)
  }
  t.same((await packed.listByOwner('o')).sort(), ['f', 'p'])
  t.same((await fields.stats()).owners, { o: 2 })
  t.equal(await fields.destroyByOwner('o'), 2)
  t.equal(await redis.exists('mixed:p', 'mixed:f'), 0)
})

t.test('the packed record comes back exactly through the scripts that rewrite it (cjson): numbers of 16 digits, slashes, non-ASCII, escapes, an empty meta', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'exact:' })
  const meta = { ip: '::1/64', userAgent: 'Mozilla/5.0 (é) "quoted" \\ \u0001', owner: 'a\ud800b/😀', createdAtHr: 1796618208616.4531, absoluteExpiresAt: null }
  const auth = { current: ['h/1'], replaced: [] as Array<[string, number]> }
  await store.set('s', record({ a: 1 }, { expiresAt: null, meta, auth }))
  t.equal(await store.patch('s', { set: { b: 2 }, unset: [] }), 'ok')
  t.equal(await store.touch('s', null), true)
  t.equal(await store.rotate('s', 'h/1', auth), true)
  const got = await store.get('s')
  t.same(got?.meta, meta)
  t.same(got?.auth, auth, 'an empty list stays a list')
  t.equal(got?.expiresAt, null)
  t.same(await store.listByOwner(meta.owner), ['s'])
  t.equal(await store.patch('s', { set: {}, unset: [], meta: { ip: undefined, userAgent: undefined, owner: undefined, createdAtHr: undefined, absoluteExpiresAt: undefined } }), 'ok')
  t.same((await store.get('s'))?.meta, {}, 'no meta left')
  t.equal(JSON.parse((await redis.hget('exact:s', '_r'))!)[3].constructor, Object, 'an object, as cjson writes an empty table')
})

t.test('a meta value is written as JSON.stringify writes it, numbers by String() included (fast-check): -0, NaN, ±Infinity, 1e21, 5e-324', async t => {
  const values = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(-0, 1e21, 5e-324, 1796618208616.4531, NaN, Infinity, -Infinity), fc.jsonValue())
  t.doesNotThrow(() => { fc.assert(fc.property(values, value => metaJson(value) === JSON.stringify(value)), { numRuns: 2000 }) })
})

t.test('a hash corrupt in either layout reads as missing, and no store call on it throws (a script error would be a 503)', async t => {
  const redis = client()
  const stores = { packed: new RedisStore({ client: redis, prefix: 'broken:' }), fields: new RedisStore({ client: redis, prefix: 'broken:', layout: 'fields' }) }
  const withR = async (key: string, change: (r: any[]) => void): Promise<void> => {
    const r = JSON.parse((await redis.hget(key, '_r'))!)
    change(r)
    await redis.hset(key, '_r', JSON.stringify(r).replace('"INF"', '1e400'))
  }
  const withH = async (key: string, change: (h: string[]) => void): Promise<void> => {
    const h = (await redis.hget(key, '_h'))!.split(' ')
    change(h)
    await redis.hset(key, '_h', h.join(' '))
  }
  const cases: Array<[string, keyof typeof stores, (key: string) => Promise<unknown>]> = [
    ['_r with a fifth part cjson cannot write back (1e400)', 'packed', async k => { await withR(k, r => r.push('INF')) }],
    ['a meta value in _r that is a number, not its JSON', 'packed', async k => { await withR(k, r => { r[3].createdAtHr = 1796618208616.4531 }) }],
    ['a meta value in _r cjson cannot write back', 'packed', async k => { await withR(k, r => { r[3].x = 'INF' }) }],
    ['_r an object', 'packed', async k => { await redis.hset(k, '_r', '{"a":1}') }],
    ['_r nested past cjson\'s limit', 'packed', async k => { await redis.hset(k, '_r', '['.repeat(1100) + ']'.repeat(1100)) }],
    ['_r missing', 'packed', async k => { await redis.hdel(k, '_r') }],
    ['_h missing', 'packed', async k => { await redis.hdel(k, '_h') }],
    ['_h with a 16-digit version', 'packed', async k => { await withH(k, h => { h[0] = '1234567890123456' }) }],
    ['_h with junk after the expiry', 'packed', async k => { await withH(k, h => { h[2] += 'x' }) }],
    // 0.2's scripts check the auth only where they use it: rotation
    ['_a not JSON', 'fields', async k => { await redis.hset(k, '_a', 'nope') }],
    ['_a without a list of hashes', 'fields', async k => { await redis.hset(k, '_a', '{"current":5}') }],
    ['an _h beside 0.2\'s fields', 'fields', async k => { await redis.hset(k, '_h', '0 0  ') }]
  ]
  for (const [i, [how, layout, corrupt]] of cases.entries()) {
    const store = stores[layout]
    const id = `c${i}`
    await store.set(id, record({ a: 1 }, { meta: { owner: `o${i}`, ip: '::1' } }))
    await corrupt(`broken:${id}`)
    const authOnly = how.startsWith('_a ')
    t.equal(await store.get(id), undefined, `${how}: reads as missing`)
    t.equal(await store.rotate(id, 'h-current', { current: ['h2'], replaced: [] }), false, `${how}: a rotation does not happen`)
    const answers = [
      await store.patch(id, { set: {}, unset: [], meta: { ip: '::2' } }),
      await store.patch(id, { set: {}, unset: [], expiresAt: Date.now() + 60_000 }),
      await store.touch(id, Date.now() + 60_000),
      await store.listByOwner(`o${i}`)
    ]
    if (!authOnly) t.same(answers, ['missing', 'missing', false, []], `${how}: patches and touch find it missing, listing skips it`)
    await store.stats()
    await store.destroy(id)
    t.equal(await redis.exists(`broken:${id}`), 0, `${how}: destroyed`)
  }
})

t.test('a read costs exactly one command; touch one (no owner); patch one', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'count:' })
  await store.set('x', { data: { a: 1 }, createdAt: 1, expiresAt: Date.now() + 60_000, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  const commands: string[] = []
  const monitor = await client().monitor()
  // commands a client sent (a script's inner calls are reported with source "lua")
  monitor.on('monitor', (_time: string, args: string[], source: string) => { if (!source.startsWith('lua') && args.some(a => String(a).startsWith('count:'))) commands.push(args[0].toLowerCase().replace('evalsha', 'eval')) })
  await new Promise(resolve => setTimeout(resolve, 50))
  await store.get('x')
  await store.touch('x', Date.now() + 120_000)
  await store.patch('x', { set: { b: 2 }, unset: [], expiresAt: Date.now() + 120_000 })
  await new Promise(resolve => setTimeout(resolve, 100))
  monitor.disconnect()
  t.same(commands, ['hgetall', 'eval', 'eval'], 'a script call is one command')
})

t.test('a dead Redis surfaces as a store error, fast, with fail-fast settings', async t => {
  const { startRedis: start } = await import('../helpers/servers.js')
  const own = await start()
  const redis = new Redis(own.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 500, retryStrategy: () => 200 })
  redis.on('error', () => {})
  t.teardown(async () => { redis.disconnect(); await own.stop() })
  const store = new RedisStore({ client: redis })
  await new Promise(resolve => redis.once('ready', resolve))
  await own.kill()
  const started = Date.now()
  await t.rejects(store.get('x'))
  t.ok(Date.now() - started < 1000, 'failed within the command timeout')
})

t.test('a patch that changes the owner, expiry unchanged, gives the owner set the session\'s expiry', async t => {
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'own:' })
  const expiresAt = Date.now() + 60_000
  await store.set('s', record({ a: 1 }, { expiresAt }))
  t.equal(await store.patch('s', { set: {}, unset: [], meta: { owner: 'ann' } }), 'ok')
  t.equal(await redis.pexpiretime('own:owner:ann'), expiresAt, 'not left without a TTL')
  t.same(await store.listByOwner('ann'), ['s'])
})

t.test('a hash whose size, version or expiry is not a number is corrupt: a fresh session and one warning, never a 503 nor a longer life', async t => {
  const { buildApp, sessionCookie, idOf } = await import('../helpers/app.js')
  const { collectWarnings } = await import('../helpers/warnings.js')
  const redis = client()
  const cases = [['fields', '_b', 'x'], ['fields', '_b', ''], ['fields', '_b', '-5'], ['fields', '_v', ''], ['fields', '_v', '1x'], ['packed', 1, 'x'], ['packed', 1, '-5'], ['packed', 0, ''], ['packed', 0, '1x'], ['packed', 0, '1.5'], ['packed', 2, 'soon']] as const
  for (const [layout, field, value] of cases) {
    const store = new RedisStore({ client: redis, prefix: 'badsize:', layout })
    const app = await buildApp(t, { store, touchAfter: 0, rotationInterval: null }) // every read of a live session extends it
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/ann' }))!
    const key = `badsize:${idOf(cookie)}`
    if (typeof field === 'string') await redis.hset(key, field, value)
    else {
      const hot = (await redis.hget(key, '_h'))!.split(' ')
      hot[field] = value
      await redis.hset(key, '_h', hot.join(' '))
    }
    const expiry = await redis.pexpiretime(key)
    const warnings = collectWarnings(t)
    const read = await app.inject({ url: '/read', headers: { cookie } })
    t.equal(read.statusCode, 200, `${layout} ${field}=${JSON.stringify(value)}: a read answers 200`)
    t.equal(read.json().userId, null, 'as a fresh session')
    const write = await app.inject({ method: 'POST', url: '/visit', headers: { cookie } })
    t.equal(write.statusCode, 200, 'a write answers 200, not 503')
    t.not(idOf(sessionCookie(write) ?? cookie), idOf(cookie), 'on a new session')
    await app.inject({ url: '/read', headers: { cookie } })
    t.equal(await redis.pexpiretime(key), expiry, 'reads do not extend the corrupt hash')
    t.equal(await store.patch(idOf(cookie), { set: { a: 'x' }, unset: [] }), 'missing', 'a patch of it is missing, not a script error')
    await new Promise(resolve => setImmediate(resolve))
    t.equal(warnings.filter(w => w.includes('corrupt session')).length, 1, 'reported once')
  }
})

t.test('an owner index that is not a set (corrupt) fails neither logins under an owner limit nor revoke: reported once, replaced', async t => {
  const { buildApp, sessionCookie } = await import('../helpers/app.js')
  const { collectWarnings } = await import('../helpers/warnings.js')
  const redis = client()
  const store = new RedisStore({ client: redis, prefix: 'badidx:' })
  const app = await buildApp(t, { store, owner: data => data.userId as string | undefined, maxSessionsPerOwner: { limit: 3, policy: 'refuse' } })
  await redis.set('badidx:owner:ann', 'not a set')
  const warnings = collectWarnings(t)
  const logins = []
  for (let i = 0; i < 2; i++) {
    const res = await app.inject({ method: 'POST', url: '/login/ann' })
    t.equal(res.statusCode, 200, `login ${i + 1} answers 200`)
    logins.push(sessionCookie(res)!)
  }
  t.equal(await redis.type('badidx:owner:ann'), 'set', 'the index was replaced by a set')
  t.equal((await app.sessions.list('ann')).length, 2)
  t.equal(await app.sessions.revoke('ann'), 2)
  for (const cookie of logins) t.equal((await app.inject({ url: '/read', headers: { cookie } })).json().userId, null, 'revoked')
  await redis.set('badidx:owner:bob', 'not a set')
  t.same(await store.listByOwner('bob'), [], 'listed as empty')
  t.equal(await store.destroyByOwner('bob'), 0)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(warnings.filter(w => w.includes('owner index')).length, 2, 'each corrupt index reported once')
})

t.test('ioredis: a server that has not cached the scripts (restarted, flushed) runs them by EVAL, calls sent in one write included', async t => {
  const redis = new Redis(server.url, { enableAutoPipelining: true })
  clients.push(redis)
  const store = new RedisStore({ client: redis, prefix: 'noscript:' })
  const expiresAt = Date.now() + 60_000
  await store.set('x', record({ n: 0 }, { expiresAt }))
  for (let round = 0; round < 2; round++) {
    await redis.script('FLUSH')
    // in flight together, so that one write carries them all to a server without the scripts
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => await Promise.all([
      store.patch('x', { set: { [`k${round}_${i}`]: i }, unset: [] }),
      store.create(`new${round}_${i}`, record({ i }, { expiresAt })),
      store.touch('x', expiresAt)
    ])))
    t.same(results, Array.from({ length: 20 }, () => ['ok', true, true]), `round ${round}`)
  }
  const data = (await store.get('x'))?.data ?? {}
  t.equal(Object.keys(data).length, 41, 'every patch landed')
  t.same((await store.get('new1_7'))?.data, { i: 7 })
})

t.test('a prefix that Redis cannot hold as it is (a lone surrogate, which UTF-8 writes as U+FFFD) or that is not a string is refused when the store is made', async t => {
  const redis = client()
  for (const prefix of ['\udc00P:', 'p\ud800', 'a\udfffb:']) {
    t.throws(() => new RedisStore({ client: redis, prefix }), { name: 'TypeError', message: /lone surrogate/ }, JSON.stringify(prefix))
  }
  t.throws(() => new RedisStore({ client: redis, prefix: 5 as unknown as string }), { name: 'TypeError', message: /`prefix` must be a string/ })
  // a whole pair is a character: kept, and every call finds the session
  const store = new RedisStore({ client: redis, prefix: 'é😀:' })
  const expiresAt = Date.now() + 60_000
  t.equal(await store.create('s', record({ n: 1 }, { expiresAt })), true)
  t.equal(await store.touch('s', expiresAt + 1000), true)
  t.equal(await store.patch('s', { set: { n: 2 }, unset: [], meta: { owner: 'o' } }), 'ok')
  t.same(await store.listByOwner('o'), ['s'])
  t.same((await store.get('s'))?.data, { n: 2 })
})
