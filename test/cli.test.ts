import t from 'tap'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { DirectoryStore } from '../stores/directory.js'
import { RedisStore } from '../stores/redis.js'
import { renderBar } from '../bin/progress.js'
import { resolveEncryption, type KeyRing } from '../lib/key-ring.js'
import { sealedStore } from '../lib/sealed-store.js'
import type { SessionRecord, SessionStore } from '../types/index.js'
import { startMemcached, startRedis } from './helpers/servers.js'
import { tempDir } from './helpers/tmp.js'

// the built CLI (npm test builds first): a process started through the test's TypeScript loader and
// coverage takes seconds, and this file starts a dozen
const CLI = join(import.meta.dirname, '..', 'dist', 'esm', 'bin', 'cli.js')
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: npm run build (npm test does it first)`)
t.setTimeout(300_000)

interface Run { code: number, stdout: string, stderr: string }
async function cli (...args: string[]): Promise<Run> {
  return new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, SESSION_STORE_URL: '' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code: number }).code, stdout, stderr })
    })
  })
}

const record = (owner: string | undefined, expiresIn = 600_000): SessionRecord =>
  ({ data: { user: owner ?? null, n: 1 }, createdAt: Date.now(), expiresAt: Date.now() + expiresIn, version: 0, auth: { current: ['h'], replaced: [] }, meta: owner === undefined ? {} : { owner, ip: '10.0.0.1' } })

async function fill (store: SessionStore): Promise<void> {
  await store.set('AnnLaptopKey0000000000000000000000000000000', record('ann'))
  await store.set('AnnPhoneKey00000000000000000000000000000000', record('ann'))
  await store.set('BobKey000000000000000000000000000000000000', record('bob'))
  await store.set('Anonymous000000000000000000000000000000000', record(undefined))
  await store.set('Expired1000000000000000000000000000000000', record('ann', -1000))
  await store.set('Expired2000000000000000000000000000000000', record(undefined, -1000))
}

t.test('against a DirectoryStore URL: stats, inspect, prune with a progress bar, revoke', async t => {
  const dir = tempDir(t)
  const store = new DirectoryStore({ path: dir })
  await fill(store)
  const url = `dir://${dir}`

  t.same(JSON.parse((await cli('stats', '--store', url, '--json')).stdout), { sessions: 4, owners: { ann: 2, bob: 1 } })
  const human = await cli('stats', '--store', url, '--top', '1')
  t.equal(human.code, 0)
  t.match(human.stdout, /sessions: 4\nowners: 2 \(3 sessions with an owner, 1 without\)\n\s+2 {2}ann\n {2}… 1 more/)

  const shown = await cli('inspect', 'BobKey000000000000000000000000000000000000', '--store', url)
  t.equal(shown.code, 0)
  t.match(JSON.parse(shown.stdout), { key: 'BobKey000000000000000000000000000000000000', data: { user: 'bob' }, meta: { owner: 'bob', ip: '10.0.0.1' }, expiresAt: /^20\d\d-/ })
  t.match(await cli('inspect', 'NoSuchKey0000000000000000000000000000000000', '--store', url), { code: 1, stdout: /no live session/ })
  t.match(await cli('inspect', '../../etc/passwd', '--store', url), { code: 2, stderr: /inspect needs a session id/ })

  const pruned = await cli('prune', '--store', url, '--progress')
  t.equal(pruned.code, 0)
  t.match(pruned.stdout, /^removed 2 expired sessions in \d+ ms/)
  t.match(pruned.stderr, /pruning \[█{30}\] 100% {2}6\/6/, 'the progress bar ends full')

  t.match(await cli('revoke', 'ann', '--store', url), { code: 0, stdout: /revoked 2 sessions of "ann"/ })
  t.same(JSON.parse((await cli('stats', '--store', url, '--json')).stdout), { sessions: 2, owners: { bob: 1 } })
  t.match(await cli('revoke', '--store', url), { code: 2, stderr: /revoke needs an owner/ })
})

t.test('inspect of an encrypted session: ciphertext as stored, plaintext with --keys or SESSION_ENCRYPTION_KEYS', async t => {
  const dir = tempDir(t)
  const keys = [{ id: 'k1', key: randomBytes(32).toString('base64') }]
  const sealed = sealedStore(new DirectoryStore({ path: join(dir, 'sessions') }), resolveEncryption({ keys }) as KeyRing, { warn () {} } as never).store
  await sealed.set('BobKey000000000000000000000000000000000000', record('bob'))
  const url = `dir://${join(dir, 'sessions')}`
  const id = 'BobKey000000000000000000000000000000000000'
  const raw = JSON.parse((await cli('inspect', id, '--store', url, '--json')).stdout)
  t.match(raw, { data: { user: /^fzs1\.k1\./, n: /^fzs1\.k1\./ }, meta: { owner: 'bob', ip: /^fzs1\.k1\./ } }, 'without keys: as stored')
  const file = join(dir, 'keys.json')
  writeFileSync(file, JSON.stringify({ keys }))
  t.match(JSON.parse((await cli('inspect', id, '--store', url, '--keys', file, '--json')).stdout), { data: { user: 'bob', n: 1 }, meta: { owner: 'bob', ip: '10.0.0.1' } })
  const fromEnv = await new Promise<Run>(resolve => {
    execFile(process.execPath, [CLI, 'inspect', id, '--store', url], { env: { ...process.env, SESSION_ENCRYPTION_KEYS: JSON.stringify(keys) } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (err as { code: number }).code, stdout, stderr })
    })
  })
  t.match(JSON.parse(fromEnv.stdout), { data: { user: 'bob' } }, 'the keys array from the environment')
  writeFileSync(file, JSON.stringify([{ id: 'k1', key: randomBytes(32).toString('hex') }]))
  t.match(await cli('inspect', id, '--store', url, '--keys', file), { code: 1, stderr: /does not decrypt with the given keys/ })
  writeFileSync(file, JSON.stringify([{ id: 'k1', key: 'short' }]))
  t.match(await cli('inspect', id, '--store', url, '--keys', file), { code: 2, stderr: /--keys: .*encryption\.keys\[0\]\.key/ })
})

t.test('against a real Redis: stats by SCAN, revoke, inspect; prune is not needed there', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const client = new Redis(server.url)
  t.teardown(() => client.quit())
  await fill(new RedisStore({ client }))
  const url = `redis://127.0.0.1:${server.port}`
  t.same(JSON.parse((await cli('stats', '--store', url, '--json')).stdout), { sessions: 4, owners: { ann: 2, bob: 1 } })
  t.match(JSON.parse((await cli('inspect', 'AnnPhoneKey00000000000000000000000000000000', '--store', url, '--json')).stdout), { data: { user: 'ann' } })
  t.match(await cli('revoke', 'ann', '--store', url, '--json'), { code: 0, stdout: '{"owner":"ann","removed":2}' })
  t.equal(await client.exists('sess:AnnLaptopKey0000000000000000000000000000000'), 0)
  t.match(await cli('prune', '--store', url), { code: 2, stderr: /cannot prune: its server expires sessions by itself/ })
})

t.test('what a store cannot do, bad usage and bad URLs exit 2 or 1 with a message', async t => {
  const memcached = await startMemcached()
  t.teardown(() => memcached.stop())
  t.match(await cli('stats', '--store', `memcached://127.0.0.1:${memcached.port}`), { code: 2, stderr: /cannot count sessions/ })
  t.match(await cli('stats'), { code: 2, stderr: /pass --store <url> or set SESSION_STORE_URL/ })
  t.match(await cli('explode', '--store', 'memory://'), { code: 2, stderr: /unknown command "explode"/ })
  t.match(await cli(), { code: 2, stdout: /Usage: fastify-zod-session <command>/ })
  t.match(await cli('--help'), { code: 0, stdout: /prune .*\n.*stats/ })
  const bad = await cli('stats', '--store', 'redis://:hunter22@127.0.0.1:1')
  t.equal(bad.code, 1)
  t.match(bad.stderr, /cannot open redis:\/\/:\*\*\*@127\.0\.0\.1:1: /)
  t.notMatch(bad.stderr, /hunter22/, 'the password is not printed')
  t.match(await cli('stats', '--store', 'redis://host:notaport'), { code: 1, stderr: /port "notaport" of host is not a port number/ })
})

t.test('the progress bar', async t => {
  t.equal(renderBar(0, 10, 0), `[${'░'.repeat(30)}] 0%  0/10  0/s`)
  t.equal(renderBar(5, 10, 2500), `[${'█'.repeat(15)}${'░'.repeat(15)}] 50%  5/10  2.5k/s`)
  t.equal(renderBar(12345, 12345, 999), `[${'█'.repeat(30)}] 100%  12,345/12,345  999/s`)
  t.equal(renderBar(0, 0, 0), `[${'█'.repeat(30)}] 100%  0/0  0/s`, 'nothing to do is done')
})

t.test('`npx fastify-zod-session` runs the built CLI', async t => {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'))
  t.same(pkg.bin, { 'fastify-zod-session': './dist/esm/bin/cli.js' })
  t.match(readFileSync(join(import.meta.dirname, '..', 'bin', 'cli.ts'), 'utf8'), /^#!\/usr\/bin\/env node\n/, 'with a shebang tsc keeps')
})
