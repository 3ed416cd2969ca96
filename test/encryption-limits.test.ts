// Encryption at rest and maxDataBytes (plaintext: exact at the limit, never passed by two concurrent writes
// together, keys the schema strips still counted), a late store answer, and many writers of one session
// (encrypted patches stay per-key merges: every write lands, no retry storm).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { buildApp, sessionCookie, idOf, type BuildOptions } from './helpers/app.js'
import { MemoryStore } from '../lib/index.js'
import { dataSize } from '../stores/kit/record.js'
import { resolveEncryption, type KeyRing } from '../lib/key-ring.js'
import { openRecord } from '../lib/sealed-store.js'
import type { SessionPatch, SessionRecord, SessionStore } from '../types/index.js'

const KEY_A = { id: 'a', key: randomBytes(32).toString('base64') }
const ring = resolveEncryption({ keys: [KEY_A] }) as KeyRing

function gate (): { wait: Promise<void>, open: () => void } {
  let open!: () => void
  const wait = new Promise<void>(resolve => { open = resolve })
  return { wait, open }
}

t.test('exactly at the limit is saved, one byte over is refused: the same with and without encryption', async t => {
  for (const encrypted of [false, true]) {
    const store = new MemoryStore()
    const app = await buildApp(t, { store, maxDataBytes: 1000, ...(encrypted ? { encryption: { keys: [KEY_A] } } : {}) } as BuildOptions, app => {
      app.post('/fill/:n', async request => { request.session.set('a', 'x'.repeat(Number((request.params as { n: string }).n))); return { ok: true } })
    })
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/u' }))!
    const raw0 = await store.get(idOf(cookie)) as SessionRecord
    const base = dataSize(encrypted ? openRecord(ring, idOf(cookie), raw0).opened.data : raw0.data)
    const room = 1000 - base - Buffer.byteLength('a') - 2
    const at = await app.inject({ method: 'POST', url: `/fill/${room}`, headers: { cookie } })
    const over = await app.inject({ method: 'POST', url: `/fill/${room + 1}`, headers: { cookie } })
    t.same([at.statusCode, over.json().code], [200, 'FST_SESSION_TOO_LARGE'], `${encrypted ? 'encrypted' : 'plain'}: at the limit saved, over refused`)
  }
})

t.test('two requests each under the limit, together over: the store never holds more than the limit', async t => {
  const store = new MemoryStore()
  let arrived = 0
  const both = gate()
  const go = gate()
  const app = await buildApp(t, { store, maxDataBytes: 1000, encryption: { keys: [KEY_A] } } as BuildOptions, app => {
    app.post('/big/:k', async request => {
      request.session.set((request.params as { k: 'a' | 'b' }).k, 'x'.repeat(600))
      if (++arrived === 2) both.open()
      await go.wait
      return { ok: true }
    })
  })
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/u' }))!
  const p = [app.inject({ method: 'POST', url: '/big/a', headers: { cookie } }), app.inject({ method: 'POST', url: '/big/b', headers: { cookie } })]
  await both.wait
  go.open()
  const codes = (await Promise.all(p)).map(r => r.statusCode).sort()
  t.comment(`statuses ${codes.join(',')}`)
  const plain = openRecord(ring, idOf(cookie), await store.get(idOf(cookie)) as SessionRecord).opened.data
  t.ok(dataSize(plain) <= 1000, `stored plaintext ${dataSize(plain)} bytes <= 1000`)
  t.ok(codes.includes(200) && codes.some(c => c !== 200), 'one lands, the other is refused')
})

t.test('keys the schema strips still count: the stored plaintext never exceeds maxDataBytes', async t => {
  for (const encrypted of [false, true]) {
    const store = new MemoryStore()
    const enc = encrypted ? { encryption: { keys: [KEY_A] } } : {}
    // v1 of the app kept a `blob` key; v2's schema no longer has it (z.object strips unknown keys)
    const v1 = await buildApp(t, { store, maxDataBytes: 1000, schema: z.object({ userId: z.string().optional(), blob: z.string().optional(), a: z.string().optional() }), ...enc } as BuildOptions, app => {
      app.post('/blob', async request => { request.session.set('blob' as never, 'y'.repeat(600) as never); return { ok: true } })
    })
    const cookie = sessionCookie(await v1.inject({ method: 'POST', url: '/login/u' }))!
    await v1.inject({ method: 'POST', url: '/blob', headers: { cookie } })
    const v2 = await buildApp(t, { store, maxDataBytes: 1000, schema: z.object({ userId: z.string().optional(), a: z.string().optional() }), ...enc } as BuildOptions, app => {
      app.post('/a', async request => { request.session.set('a' as never, 'x'.repeat(600) as never); return { ok: true } })
    })
    const res = await v2.inject({ method: 'POST', url: '/a', headers: { cookie } })
    const raw = await store.get(idOf(cookie)) as SessionRecord
    const plain = encrypted ? openRecord(ring, idOf(cookie), raw).opened.data : raw.data
    t.ok(dataSize(plain) <= 1000, `${encrypted ? 'encrypted' : 'plain'}: answer ${res.statusCode}, stored plaintext ${dataSize(plain)} bytes (limit 1000)`)
  }
})

class SlowStore extends MemoryStore {
  delayMs = 0
  calls: string[] = []
  override get synchronous (): boolean { return false }
  async #wait (): Promise<void> { if (this.delayMs > 0) await new Promise(resolve => setTimeout(resolve, this.delayMs)) }
  override async get (id: string): Promise<SessionRecord | undefined> { await this.#wait(); return await super.get(id) }
  override async patch (id: string, change: SessionPatch) { this.calls.push('patch'); await this.#wait(); return await super.patch(id, change) }
  override async set (id: string, record: SessionRecord): Promise<void> { await this.#wait(); await super.set(id, record) }
}

t.test('a late store under encryption: 503, no unhandled rejection, and the late writes do no harm', async t => {
  const rejections: unknown[] = []
  const onRejection = (err: unknown): void => { rejections.push(err) }
  process.on('unhandledRejection', onRejection)
  t.teardown(() => { process.off('unhandledRejection', onRejection) })
  const store = new SlowStore()
  const app = await buildApp(t, { store: store as SessionStore, storeTimeout: 0.05, encryption: { keys: [KEY_A] } } as BuildOptions)
  const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/u' }))!
  store.delayMs = 120
  const slowWrite = await app.inject({ method: 'POST', url: '/set/a/late', headers: { cookie } })
  const slowNew = await app.inject({ method: 'POST', url: '/login/v' })
  t.same([slowWrite.statusCode, slowNew.statusCode], [503, 503])
  store.delayMs = 0
  await new Promise(resolve => setTimeout(resolve, 1500))
  const after = await app.inject({ url: '/read', headers: { cookie } })
  t.equal(after.statusCode, 200)
  t.equal(after.json().userId, 'u')
  t.same(rejections, [], 'no unhandled rejection')
})

class LatencyStore extends MemoryStore {
  override get synchronous (): boolean { return false }
  patches = 0
  async #wait (): Promise<void> { await new Promise(resolve => setTimeout(resolve, 2 + Math.random() * 3)) }
  override async get (id: string): Promise<SessionRecord | undefined> { await this.#wait(); return await super.get(id) }
  override async patch (id: string, change: SessionPatch) { this.patches++; await this.#wait(); return await super.patch(id, change) }
}

t.test('contention: 30 and 80 parallel requests writing different keys of one session (store with 2-5 ms latency)', async t => {
  for (const [encrypted, n] of [[false, 30], [true, 30], [false, 80], [true, 80]] as const) {
    const store = new LatencyStore()
    const app = await buildApp(t, { store: store as SessionStore, ...(encrypted ? { encryption: { keys: [KEY_A] } } : {}) } as BuildOptions)
    const cookie = sessionCookie(await app.inject({ method: 'POST', url: '/login/u' }))!
    store.patches = 0
    const started = Date.now()
    const res = await Promise.all(Array.from({ length: n }, async (_, i) => await app.inject({ method: 'POST', url: `/set/k${i}/v${i}`, headers: { cookie } })))
    const ms = Date.now() - started
    const bad = res.filter(r => r.statusCode !== 200).map(r => r.json().code)
    t.comment(`${encrypted ? 'encrypted' : 'plain'}: ${store.patches} patches for ${n} writes in ${ms} ms; failures: ${JSON.stringify(bad)}`)
    t.same(bad, [], `${encrypted ? 'encrypted' : 'plain'} ${n}: every write lands`)
    t.ok(store.patches <= 2 * n, `${encrypted ? 'encrypted' : 'plain'} ${n}: about a patch each, no retry storm (per-key merges; ${store.patches} patches)`)
  }
})
