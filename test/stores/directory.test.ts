import t from 'tap'
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Fastify from 'fastify'
import { DirectoryStore } from '../../stores/directory.js'
import fastifyZodSession from '../../lib/index.js'
import { conformance } from './conformance.js'
import { tempDir } from '../helpers/tmp.js'
import { collectWarnings } from '../helpers/warnings.js'
import { crashLoop } from '../helpers/crash-loop.js'
import { SECRET, TestSchema } from '../helpers/app.js'

// npm run test:stress runs the crash loop 50 times: give the file time for it
if (process.env.FZS_CRASH_ROUNDS !== undefined) t.setTimeout(900_000)

t.test('conformance', async t => {
  const dir = tempDir(t)
  conformance(t, {
    create: async ({ prefix }) => new DirectoryStore({ path: dir, prefix }),
    prune: true,
    corruptions: { 'a file that is not JSON': async ({ prefix, id }) => { writeFileSync(join(dir, `${prefix}${id}.session`), '{"data": ') } }
  })
})

t.test('conformance with fsync', async t => {
  const dir = tempDir(t)
  conformance(t, { create: async ({ prefix }) => new DirectoryStore({ path: join(dir, prefix), fsync: true }), prune: true })
})

const rec = (expiresAt: number | null, data: Record<string, unknown> = { a: 1 }) => ({ data, createdAt: Date.now(), expiresAt, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })

t.test('one file per session, named from the key, mtime = expiry', async t => {
  const dir = tempDir(t)
  const store = new DirectoryStore({ path: join(dir, 'nested', 'sessions') })
  const expiresAt = Date.now() + 3_600_000
  await store.set('abc_DEF-123', rec(expiresAt))
  const files = readdirSync(join(dir, 'nested', 'sessions')).filter(f => !f.startsWith('.'))
  t.same(files, ['abc_DEF-123.session'], 'missing folders are created')
  t.equal(Math.round(statSync(join(dir, 'nested', 'sessions', files[0])).mtimeMs), expiresAt)
})

t.test('no path traversal from any id', async t => {
  const dir = tempDir(t)
  const store = new DirectoryStore({ path: dir })
  for (const id of ['../x', '..', 'a/b', 'a\\b', '', '.hidden', 'x'.repeat(201), 'nul\0']) {
    await t.rejects(store.get(id), TypeError, JSON.stringify(id))
    await t.rejects(store.set(id, rec(null)), TypeError)
  }
  t.throws(() => new DirectoryStore({ path: dir, prefix: '../up' }), TypeError)
})

t.test('corrupt files are treated as missing and reported once', async t => {
  const dir = tempDir(t)
  const store = new DirectoryStore({ path: dir })
  await store.ready()
  const warnings = collectWarnings(t)
  for (const [id, content] of [['torn', '{"data":{"a":'], ['wrongtype', '"just a string"'], ['nodata', '{"createdAt":1}'], ['empty', '']]) {
    writeFileSync(join(dir, `${id}.session`), content)
    t.equal(await store.get(id), undefined, id)
    t.equal(await store.get(id), undefined, `${id} again`)
    t.equal(await store.patch(id, { set: { a: 2 }, unset: [], expiresAt: null }), 'missing')
  }
  await new Promise(resolve => setImmediate(resolve))
  t.equal(warnings.filter(w => w.includes('corrupt session file')).length, 4, 'one warning per file')
})

t.test('prune decides by stat: expired files go without being parsed, temp files are left alone', async t => {
  const dir = tempDir(t)
  const store = new DirectoryStore({ path: dir })
  await store.set('live', rec(Date.now() + 60_000))
  await store.set('dead', rec(Date.now() + 60_000))
  // make "dead" expired by mtime only: its content still says live, which prune must not read
  const { utimesSync } = await import('node:fs')
  utimesSync(join(dir, 'dead.session'), new Date(), new Date(Date.now() - 1000))
  writeFileSync(join(dir, '.dead.session.123.tmp'), 'x')
  t.equal(await store.prune(), 1)
  t.same(readdirSync(dir).filter(f => f.endsWith('.session')), ['live.session'])
  t.ok(readdirSync(dir).includes('.dead.session.123.tmp'))
})

t.test('two processes share a folder: patches never tear a file', async t => {
  const dir = tempDir(t)
  const a = new DirectoryStore({ path: dir })
  const b = new DirectoryStore({ path: dir })
  await a.set('shared', rec(null, { n: 0 }))
  await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).patch('shared', { set: { [`k${i}`]: 'x'.repeat(1000) }, unset: [], expiresAt: null })))
  const content = readFileSync(join(dir, 'shared.session'), 'utf8')
  t.doesNotThrow(() => JSON.parse(content), 'the file is always whole JSON')
})

t.test('an unwritable folder fails app.ready() with a clear error', async t => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'a-file'), '')
  const app = Fastify()
  app.register(fastifyZodSession, { secret: SECRET, schema: TestSchema, store: new DirectoryStore({ path: join(dir, 'a-file', 'sessions') }) })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_SESSION_STORE_UNAVAILABLE', message: /open the store: .*(ENOTDIR|EEXIST)/ })
})

t.test('a missing path option is a TypeError', async t => {
  t.throws(() => new DirectoryStore({} as never), /path/)
})

t.test('SIGKILL at random moments: every file parses and no acknowledged write is lost', async t => {
  const dir = tempDir(t)
  await crashLoop(t, dir, 'directory', () => new DirectoryStore({ path: dir }), Number(process.env.FZS_CRASH_ROUNDS ?? 5))
  const torn = readdirSync(dir).filter(f => f.endsWith('.session')).filter(f => {
    try { JSON.parse(readFileSync(join(dir, f), 'utf8')); return false } catch { return true }
  })
  t.same(torn, [], 'no torn session file')
})
