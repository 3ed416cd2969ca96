import t from 'tap'
import { readFileSync, writeFileSync, appendFileSync, existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { FileStore } from '../../stores/file.js'
import { conformance } from './conformance.js'
import { tempDir } from '../helpers/tmp.js'
import { collectWarnings } from '../helpers/warnings.js'
import { crashLoop, startWriter } from '../helpers/crash-loop.js'

// npm run test:stress runs the crash loop 50 times: give the file time for it
if (process.env.FZS_CRASH_ROUNDS !== undefined) t.setTimeout(900_000)

const rec = (data: Record<string, unknown>, expiresAt: number | null = Date.now() + 60_000) => ({ data, createdAt: Date.now(), expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })

t.test('conformance', async t => {
  const dir = tempDir(t)
  let n = 0
  conformance(t, { create: async ({ prefix }) => new FileStore({ path: join(dir, `sessions-${n++}.jsonl`), prefix }), prune: true })
})

t.test('sessions survive a close and reopen; the journal is replayed', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  const first = new FileStore({ path })
  await first.set('a', rec({ v: 1, when: new Date(7) }))
  await first.patch('a', { set: { w: 2 }, unset: ['v'], expiresAt: null })
  await first.set('b', rec({ v: 1 }))
  await first.destroy('b')
  await first.set('c', rec({ v: 1 }))
  await first.touch('c', Date.now() + 999_000)
  await first.close()
  const second = new FileStore({ path })
  t.same((await second.get('a'))?.data, { when: new Date(7), w: 2 })
  t.equal((await second.get('a'))?.expiresAt, null)
  t.equal(await second.get('b'), undefined)
  t.ok(((await second.get('c'))?.expiresAt ?? 0) > Date.now() + 900_000)
  await second.close()
})

t.test('compaction rewrites the journal to one line per live session', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  const store = new FileStore({ path, compactAfter: 50 })
  await store.set('x', rec({ i: -1 }, null))
  for (let i = 0; i < 300; i++) await store.patch('x', { set: { i }, unset: [], expiresAt: null })
  await store.set('y', rec({ y: true }, null))
  await store.close()
  const lines = readFileSync(path, 'utf8').trim().split('\n')
  t.ok(lines.length <= 52, `journal kept short (${lines.length} lines)`)
  const reopened = new FileStore({ path })
  t.same((await reopened.get('x'))?.data, { i: 299 })
  t.same((await reopened.get('y'))?.data, { y: true })
  await reopened.close()
})

t.test('prune removes expired sessions and compaction reclaims their space', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  const store = new FileStore({ path })
  for (let i = 0; i < 100; i++) await store.set(`dead${i}`, rec({ pad: 'x'.repeat(500) }, Date.now() + 100_000))
  await store.set('live', rec({ ok: true }, Date.now() + 600_000))
  const before = statSync(path).size
  const realNow = Date.now
  Date.now = () => realNow() + 200_000
  t.teardown(() => { Date.now = realNow })
  t.equal(await store.prune(), 100)
  t.ok(statSync(path).size < before / 20, 'the file shrank')
  t.same((await store.get('live'))?.data, { ok: true })
  await store.close()
})

t.test('a torn last line is skipped, not fatal, and new writes start clean', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  const store = new FileStore({ path })
  await store.set('a', rec({ v: 1 }))
  await store.close()
  appendFileSync(path, '{"s":"b","r":{"data":{"v":')
  const reopened = new FileStore({ path })
  t.same((await reopened.get('a'))?.data, { v: 1 })
  t.equal(await reopened.get('b'), undefined)
  await reopened.set('c', rec({ v: 3 }))
  await reopened.close()
  const again = new FileStore({ path })
  t.same((await again.get('c'))?.data, { v: 3 })
  await again.close()
})

t.test('a corrupt line in the middle is skipped and reported', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  writeFileSync(path, '{"s":"a","r":{"data":{"v":1},"createdAt":1,"expiresAt":null,"version":0,"auth":{"current":["h"],"replaced":[]},"meta":{}}}\nnot json\n{"zz":1}\n{"s":"b","r":{"data":{"v":2},"createdAt":1,"expiresAt":null,"version":0,"auth":{"current":["h"],"replaced":[]},"meta":{}}}\n')
  const warnings = collectWarnings(t)
  const store = new FileStore({ path })
  t.same((await store.get('a'))?.data, { v: 1 })
  t.same((await store.get('b'))?.data, { v: 2 })
  await store.close()
  await new Promise(resolve => setImmediate(resolve))
  t.ok(warnings.some(w => w.includes('2 corrupt line(s)')))
})

t.test('one process owns a file: a second process gets a clear error', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  const child = startWriter(path, 'hold')
  t.teardown(() => { child.kill('SIGKILL') })
  await new Promise<void>(resolve => child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve() }))
  const store = new FileStore({ path })
  await t.rejects(store.ready(), { message: new RegExp(`in use: process ${child.pid} holds`) })
  child.kill('SIGKILL')
  await new Promise(resolve => child.once('exit', resolve))
  const after = new FileStore({ path })
  await after.ready()
  t.pass('the lock of a dead process is taken over')
  await after.close()
  t.notOk(existsSync(path + '.lock'), 'close releases the lock')
})

t.test('SIGKILL at random moments: the file always opens and no acknowledged write is lost', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  await crashLoop(t, path, 'file', () => new FileStore({ path }), Number(process.env.FZS_CRASH_ROUNDS ?? 10))
})

t.test('a container restarted after a crash runs as the same pid: the lock its previous life left is stale', async t => {
  const path = join(tempDir(t), 'sessions.jsonl')
  for (const left of [`${process.pid} an-earlier-life-of-this-pid`, String(process.pid)]) {
    writeFileSync(path + '.lock', left)
    const store = new FileStore({ path })
    await store.ready()
    t.pass(`lock ${JSON.stringify(left)} taken over`)
    const second = new FileStore({ path })
    await t.rejects(second.ready(), { message: /in use: this process already holds/ }, 'while this life holds it, a second store in the process is refused')
    await store.close()
  }
})
