import t from 'tap'
import { execFileSync } from 'node:child_process'

// The built package (npm test builds first), loaded by its own name as a user would.
function run (args: string[], code: string): string {
  return execFileSync(process.execPath, [...args, code], { cwd: process.cwd(), encoding: 'utf8' }).trim()
}

const probe = 'typeof m === "function" && typeof m.default === "function" && typeof m.fastifyZodSession === "function" && typeof m.MemoryStore === "function" && typeof m.errorCodes.FST_SESSION_INVALID_OPTIONS === "function"'

t.test('require() gives the plugin function with every named export', async t => {
  t.equal(run(['-e'], `const m = require('fastify-zod-session'); console.log(${probe})`), 'true')
  t.equal(run(['-e'], 'const { MemoryStore } = require(\'fastify-zod-session/stores/memory\'); console.log(typeof MemoryStore)'), 'function')
})

t.test('import gives the default export and the named ones', async t => {
  const out = run(['--input-type=module', '-e'], `import d, { fastifyZodSession, MemoryStore, errorCodes } from 'fastify-zod-session'; const m = Object.assign(d, { fastifyZodSession, MemoryStore, errorCodes }); console.log(d === fastifyZodSession && ${probe})`)
  t.equal(out, 'true')
})

t.test('a CommonJS app registers the plugin and keeps a session', async t => {
  const out = run(['-e'], `
    const Fastify = require('fastify'); const { z } = require('zod'); const session = require('fastify-zod-session')
    const app = Fastify()
    app.register(session, { secret: 'x'.repeat(32), schema: z.object({ n: z.number().default(0) }) })
    app.get('/', async (req) => { req.session.set('n', req.session.get('n') + 1); return { n: req.session.get('n') } })
    app.inject('/').then(r1 => app.inject({ url: '/', headers: { cookie: r1.headers['set-cookie'].split(';')[0] } }))
      .then(r2 => { console.log(r2.body); return app.close() })`)
  t.equal(out, '{"n":2}')
})
