// Two processes on one DirectoryStore folder (a rolling deploy, `cluster`, two containers on one
// volume) patch one session at the same moment, each its own keys: no write is lost.
import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { DirectoryStore } from '../../stores/directory.js'
import { tempDir } from '../helpers/tmp.js'

const PATCHER = join(import.meta.dirname, '..', 'fixtures', 'directory-patcher.ts')
const WRITES = 150

function patcher (dir: string, id: string, name: string): { ready: Promise<void>, done: Promise<string>, go: () => void } {
  const child = spawn(process.execPath, [...process.execArgv, PATCHER, dir, id, name, String(WRITES)], { stdio: ['pipe', 'pipe', 'inherit'] })
  let out = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>(resolve => { onReady = resolve })
  const done = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += String(chunk)
      if (out.includes('ready\n')) onReady()
    })
    child.once('exit', code => { code === 0 ? resolve(out) : reject(new Error(`patcher ${name} exited with ${String(code)}`)) })
  })
  return { ready, done, go: () => { child.stdin.end('go\n') } }
}

t.test('two processes patching one session at once: every key of both is kept', async t => {
  const dir = tempDir(t)
  const store = new DirectoryStore({ path: dir })
  const id = 'shared-session'
  await store.set(id, { data: {}, createdAt: Date.now(), expiresAt: Date.now() + 3_600_000, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  const a = patcher(dir, id, 'a')
  const b = patcher(dir, id, 'b')
  await Promise.all([a.ready, b.ready]) // both loaded and waiting: released together
  a.go()
  b.go()
  const outs = await Promise.all([a.done, b.done])
  t.same(outs.map(o => o.trim().split('\n').pop()), ['done 0', 'done 0'], 'every patch answered ok')
  const record = await store.get(id)
  const keys = Object.keys(record?.data ?? {})
  t.equal(keys.length, 2 * WRITES, `all ${2 * WRITES} keys kept (lost: ${2 * WRITES - keys.length})`)
  t.equal(record?.version, 2 * WRITES, 'one version per patch')
})

t.test('a key lock left by a process that died holding it is broken after 10 s, never blocks the session for good', async t => {
  const { utimes, writeFile, access } = await import('node:fs/promises')
  const dir = tempDir(t)
  const store = new DirectoryStore({ path: dir })
  await store.set('left', { data: {}, createdAt: Date.now(), expiresAt: Date.now() + 3_600_000, version: 0, auth: { current: ['h'], replaced: [] }, meta: {} })
  const lock = join(dir, 'left.session.lock')
  await writeFile(lock, '')
  const old = new Date(Date.now() - 11_000)
  await utimes(lock, old, old)
  t.equal(await store.patch('left', { set: { a: 1 }, unset: [] }), 'ok')
  await t.rejects(access(lock), 'and the lock is gone after the write')
})
