// The published types as a user's compiler meets them: node16, nodenext and bundler resolution, from
// ESM and CommonJS, with skipLibCheck off so an error inside our .d.ts shows. Runs on the built package.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'

// five full type checks of fastify, zod and ours (skipLibCheck off): ~2 minutes alone, longer on a loaded machine
t.setTimeout(600_000)

const ROOT = new URL('..', import.meta.url).pathname
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc')

const ESM = `
import Fastify from 'fastify'
import { z } from 'zod'
import fastifyZodSession, { errorCodes, MemoryStore, type FastifyZodSessionOptions } from 'fastify-zod-session'
import { RedisStore } from 'fastify-zod-session/stores/redis'
import { storeConformance } from 'fastify-zod-session/testing'

type IsAny<T> = 0 extends 1 & T ? true : false
const notAny: IsAny<typeof errorCodes> = false
const app = Fastify()
const options: FastifyZodSessionOptions = { secret: 'x'.repeat(32), schema: z.object({ n: z.number().default(0) }), store: new MemoryStore() }
app.register(fastifyZodSession, options)
app.get('/', async request => request.session.id)
const code: 'FST_SESSION_INVALID_DATA' = new errorCodes.FST_SESSION_INVALID_DATA('x').code
export { notAny, code, RedisStore, storeConformance }
`

const CJS = `
import Fastify = require('fastify')
import zod = require('zod')
import fastifyZodSession = require('fastify-zod-session')
import redis = require('fastify-zod-session/stores/redis')

type IsAny<T> = 0 extends 1 & T ? true : false
const notAny: IsAny<typeof fastifyZodSession.errorCodes> = false
const app = Fastify()
const options: fastifyZodSession.FastifyZodSessionOptions = { secret: 'x'.repeat(32), schema: zod.z.object({}), store: new fastifyZodSession.MemoryStore() }
app.register(fastifyZodSession, options)
app.register(fastifyZodSession.default, options)
app.register(fastifyZodSession.fastifyZodSession, options)
app.get('/', async request => request.session.id)
export = { notAny, store: redis.RedisStore }
`

const cases: Array<{ name: string, module: string, resolution: string, file: string, source: string }> = [
  { name: 'node16, ESM', module: 'node16', resolution: 'node16', file: 'app.mts', source: ESM },
  { name: 'nodenext, ESM', module: 'nodenext', resolution: 'nodenext', file: 'app.mts', source: ESM },
  { name: 'bundler, ESM', module: 'esnext', resolution: 'bundler', file: 'app.ts', source: ESM },
  { name: 'node16, CommonJS', module: 'node16', resolution: 'node16', file: 'app.cts', source: CJS },
  { name: 'nodenext, CommonJS', module: 'nodenext', resolution: 'nodenext', file: 'app.cts', source: CJS }
]

const dir = mkdtempSync(join(ROOT, '.tmp-types-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
mkdirSync(join(dir, 'node_modules'))
symlinkSync(ROOT, join(dir, 'node_modules/fastify-zod-session'), 'dir')

for (const c of cases) {
  t.test(`the package's types compile under ${c.name}`, async t => {
    const project = join(dir, c.name.replace(/\W+/g, '-'))
    mkdirSync(project)
    writeFileSync(join(project, c.file), c.source)
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { module: c.module, moduleResolution: c.resolution, target: 'es2022', strict: true, noEmit: true, skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')] },
      files: [c.file]
    }))
    const result = await promisify(execFile)(process.execPath, [TSC, '-p', project], { cwd: project }).then(() => '', (err: { stdout?: string }) => err.stdout ?? String(err))
    t.equal(result, '', 'no type errors')
  })
}
