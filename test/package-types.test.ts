// The published types as a user's compiler meets them: node16, nodenext and bundler resolution, from
// ESM and CommonJS, with skipLibCheck off (an error inside our .d.ts shows) and on (what most apps run,
// and where a broken type silently turns into `any`). Runs on the built package, installed as a copy in a
// node_modules that has every dependency of this repository except ioredis: a node-redis-only project.
//
// Every consumer registers its schema with the README's `declare module 'fastify-zod-session'` and asserts
// its misuses with `// @ts-expect-error`: an expect-error that no longer meets an error is itself an error
// (TS2578), so typing that degrades to `any` fails here, in every mode.
import t from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

// ten type checks of fastify, zod and ours, two at a time: about 1.5 minutes alone, over 3 on a loaded machine
t.setTimeout(600_000)

const ROOT = new URL('..', import.meta.url).pathname
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')

// the same typed route in every consumer: right uses compile, each misuse is an error
const ROUTE = `app.get('/', async request => {
  const sessionNotAny: IsAny<typeof request.session> = false
  const visits: number = request.session.get('visits')
  request.session.set('visits', visits + 1)
  const userId: string | undefined = request.session.get('userId')
  // @ts-expect-error a number read into a string
  const wrong: string = request.session.get('visits')
  // @ts-expect-error a key the schema does not have
  request.session.get('unknownKey')
  // @ts-expect-error a string set into a number
  request.session.set('visits', 'many')
  return { sessionNotAny, visits, userId, wrong, id: request.session.id }
})
`

const ESM = `
import Fastify from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { errorCodes, MemoryStore, type FastifyZodSessionOptions } from 'fastify-zod-session'
import { RedisStore } from 'fastify-zod-session/stores/redis'
import { storeConformance } from 'fastify-zod-session/testing'

const SessionSchema = z.object({ visits: z.number().default(0), userId: z.string().optional() })
declare module 'fastify-zod-session' {
  interface SessionRegister { schema: typeof SessionSchema }
}

type IsAny<T> = 0 extends 1 & T ? true : false
const notAny: IsAny<typeof errorCodes> = false
const app = Fastify()
const options: FastifyZodSessionOptions = { secret: 'x'.repeat(32), schema: SessionSchema, store: new MemoryStore() }
app.register(fastifyZodSession, options)
// @ts-expect-error the schema option must be the registered schema
app.register(fastifyZodSession, { secret: 'x'.repeat(32), schema: z.object({ other: z.boolean() }) })
${ROUTE}const code: 'FST_SESSION_INVALID_DATA' = new errorCodes.FST_SESSION_INVALID_DATA('x').code
export { notAny, code, RedisStore, storeConformance }
`

const CJS = `
import Fastify = require('fastify')
import zod = require('zod')
import fastifyZodSession = require('fastify-zod-session')
import redis = require('fastify-zod-session/stores/redis')

const SessionSchema = zod.z.object({ visits: zod.z.number().default(0), userId: zod.z.string().optional() })
declare module 'fastify-zod-session' {
  interface SessionRegister { schema: typeof SessionSchema }
}

type IsAny<T> = 0 extends 1 & T ? true : false
const notAny: IsAny<typeof fastifyZodSession.errorCodes> = false
const app = Fastify()
const options: fastifyZodSession.FastifyZodSessionOptions = { secret: 'x'.repeat(32), schema: SessionSchema, store: new fastifyZodSession.MemoryStore() }
app.register(fastifyZodSession, options)
app.register(fastifyZodSession.default, options)
app.register(fastifyZodSession.fastifyZodSession, options)
// @ts-expect-error the schema option must be the registered schema
app.register(fastifyZodSession, { secret: 'x'.repeat(32), schema: zod.z.object({ other: zod.z.boolean() }) })
${ROUTE}export = { notAny, store: redis.RedisStore }
`

// What @fastify/session's README has apps declare, left in place after switching: request.session must
// stay ours (the consumer's assertions above still hold), never `Session` replaced by this one, or `any`.
const LEFTOVER = `
declare module 'fastify' {
  interface Session { user?: string }
}
export {}
`

interface Case { name: string, module: string, resolution: string, ext: 'mts' | 'cts' | 'ts', source: string, leftover: boolean }
// node16 and nodenext (and bundler) read the same .d.ts trees (dist/esm, or lib/require.d.cts + dist/cjs), so
// the leftover @fastify/session block rides along in the node16 projects, one per tree, instead of doubling the runs
const modes: Case[] = [
  { name: 'node16, ESM', module: 'node16', resolution: 'node16', ext: 'mts', source: ESM, leftover: true },
  { name: 'nodenext, ESM', module: 'nodenext', resolution: 'nodenext', ext: 'mts', source: ESM, leftover: false },
  { name: 'bundler, ESM', module: 'esnext', resolution: 'bundler', ext: 'ts', source: ESM, leftover: false },
  { name: 'node16, CommonJS', module: 'node16', resolution: 'node16', ext: 'cts', source: CJS, leftover: true },
  { name: 'nodenext, CommonJS', module: 'nodenext', resolution: 'nodenext', ext: 'cts', source: CJS, leftover: false }
]

// outside the repository, so nothing resolves through its node_modules (which has ioredis)
const dir = mkdtempSync(join(tmpdir(), 'fzs-types-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const modules = join(dir, 'node_modules')
mkdirSync(modules)
const pkg = join(modules, 'fastify-zod-session')
for (const entry of ['package.json', ...JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).files as string[]]) {
  cpSync(join(ROOT, entry), join(pkg, entry), { recursive: true, filter: source => !source.endsWith('.map') })
}
const withoutIoredis = new Set(['.bin', '.package-lock.json', 'fastify-zod-session', 'ioredis', 'ioredis6'])
for (const name of readdirSync(join(ROOT, 'node_modules'))) {
  if (!withoutIoredis.has(name)) symlinkSync(join(ROOT, 'node_modules', name), join(modules, name), 'dir')
}

t.test('the consumers run where ioredis cannot be found', async t => {
  const found = await promisify(execFile)(process.execPath, ['-e', "require.resolve('ioredis')"], { cwd: dir }).then(() => true, () => false)
  t.equal(found, false)
})

/** runs `jobs` at most `width` at a time */
function limit (width: number): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0
  const waiting: Array<() => void> = []
  return async job => {
    if (running >= width) await new Promise<void>(resolve => waiting.push(resolve))
    running++
    try {
      return await job()
    } finally {
      running--
      waiting.shift()?.()
    }
  }
}

const twoAtATime = limit(2)
// tsc as a user runs it: without tap's loaders and coverage in its process
const env = { ...process.env }
delete env.NODE_OPTIONS
delete env.NODE_V8_COVERAGE
const checks = modes.flatMap(mode => [false, true].map(skipLibCheck => {
  const name = `${mode.name}, skipLibCheck ${String(skipLibCheck)}${mode.leftover ? ', with a leftover @fastify/session `interface Session`' : ''}`
  const project = join(dir, `${mode.name}-${String(skipLibCheck)}`.replace(/\W+/g, '-'))
  mkdirSync(project)
  const files = [`app.${mode.ext}`]
  writeFileSync(join(project, files[0]), mode.source)
  if (mode.leftover) {
    files.push(`leftover.${mode.ext}`)
    writeFileSync(join(project, files[1]), LEFTOVER)
  }
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
    // skipDefaultLibCheck: TypeScript's own lib files, never ours (a third of the check time)
    compilerOptions: { module: mode.module, moduleResolution: mode.resolution, target: 'es2022', strict: true, noEmit: true, skipLibCheck, skipDefaultLibCheck: true, types: ['node'], typeRoots: [join(modules, '@types')] },
    files
  }))
  const errors = twoAtATime(async () => await promisify(execFile)(process.execPath, [TSC, '-p', project], { cwd: project, env })
    .then(() => '', (err: { stdout?: string }) => err.stdout ?? String(err)))
  return { name, errors }
}))

for (const check of checks) {
  t.test(`the package's types compile, typed by the registered schema, under ${check.name}`, async t => {
    t.equal(await check.errors, '', 'no type errors, and every misuse is one')
  })
}
