import t from 'tap'
import { MemoryStore } from '../../stores/memory.js'
import { conformance } from './conformance.js'
import { fakeClock } from '../helpers/clock.js'
import { collectWarnings } from '../helpers/warnings.js'

t.test('conformance', async t => {
  conformance(t, { create: async ({ prefix }) => new MemoryStore({ prefix }), prune: true })
})

const rec = (expiresAt: number | null = Date.now() + 60_000) => ({ data: {}, createdAt: Date.now(), expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })

t.test('maxEntries evicts the least recently used', async t => {
  const store = new MemoryStore({ maxEntries: 3 })
  for (const id of ['a', 'b', 'c']) await store.set(id, rec())
  await store.get('a') // a is now the most recent
  await store.set('d', rec())
  t.equal(store.size, 3)
  t.equal(await store.get('b'), undefined, 'b was least recently used')
  for (const id of ['a', 'c', 'd']) t.ok(await store.get(id), id)
})

t.test('eviction keeps the owner index right', async t => {
  const store = new MemoryStore({ maxEntries: 1 })
  await store.set('a', { ...rec(), meta: { owner: 'o' } })
  await store.set('b', rec())
  t.same(await store.listByOwner('o'), [])
})

t.test('expired entries are invisible before pruning and counted by prune', async t => {
  const clock = fakeClock(t)
  const store = new MemoryStore()
  await store.set('a', rec(clock.now() + 1000))
  await store.set('b', rec(clock.now() + 5000))
  clock.advance(2000)
  t.equal(store.size, 2)
  t.equal(await store.prune(), 1)
  t.equal(store.size, 1)
})

t.test('bad maxEntries is a TypeError', async t => {
  t.throws(() => new MemoryStore({ maxEntries: 0 }), TypeError)
})

t.test('warns once under NODE_ENV=production', async t => {
  const saved = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  const warnings = collectWarnings(t, 'FST_SESSION_MEMORY_STORE')
  t.teardown(() => { process.env.NODE_ENV = saved })
  const { MemoryStore: Fresh } = await import('../../stores/memory.js?production' as string) as typeof import('../../stores/memory.js')
  t.ok(new Fresh())
  t.ok(new Fresh(), 'a second store does not warn again')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(warnings.length, 1)
})

t.test('reads after a patch see the patched keys, never a value parsed before it, nor a reader\'s mutation', async t => {
  const store = new MemoryStore()
  await store.set('a', { ...rec(), data: { kept: { n: 1 }, changed: { n: 1 }, gone: 'x' } })
  const first = await store.get('a')
  ;(first!.data.kept as { n: number }).n = 99
  t.equal(await store.patch('a', { set: { changed: { n: 2 } }, unset: ['gone'] }), 'ok')
  t.same((await store.get('a'))!.data, { kept: { n: 1 }, changed: { n: 2 } })
  t.equal(await store.patch('a', { set: { changed: { n: 3 }, added: [1] }, unset: [] }), 'ok')
  t.same((await store.get('a'))!.data, { kept: { n: 1 }, changed: { n: 3 }, added: [1] })
  await store.set('a', { ...rec(), data: { kept: 'replaced' } })
  t.same((await store.get('a'))!.data, { kept: 'replaced' }, 'set() replaces what was parsed')
})
