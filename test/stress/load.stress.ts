import t, { type Test } from 'tap'
import { join } from 'node:path'
import autocannon from 'autocannon'
import { Redis } from 'ioredis'
import type { SessionStore } from '../../types/index.js'
import { RedisStore } from '../../stores/redis.js'
import { DirectoryStore } from '../../stores/directory.js'
import { startRedis } from '../helpers/servers.js'
import { buildApp, sessionCookie } from '../helpers/app.js'
import { tempDir } from '../helpers/tmp.js'

t.setTimeout(900_000)

// autocannon for 30 s with 100 connections, each its own session, alternating writes and reads:
// 0 errors, 0 non-2xx, and afterwards every session holds what its client last wrote.
const SECONDS = Number(process.env.FZS_LOAD_SECONDS ?? 30)
const CONNECTIONS = 100

interface ClientView { cookie: string, lastSeen: number }
interface LoadClient { setHeaders (headers: Record<string, string>): void, on (event: 'body', listener: (body: Buffer) => void): void }

async function loadRun (t: Test, store: SessionStore): Promise<void> {
  const app = await buildApp(t, { store, pruneInterval: null })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const cookies = await Promise.all(Array.from({ length: CONNECTIONS }, async (_, i) => sessionCookie(await app.inject({ method: 'POST', url: `/login/load${i}` }))!))
  const views: ClientView[] = []
  const result = await autocannon({
    url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}`,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [{ method: 'POST', path: '/visit' }, { method: 'GET', path: '/read' }],
    // each connection is one client with its own session; its requests run one after another
    setupClient: (client: LoadClient) => {
      const view = { cookie: cookies[views.length % CONNECTIONS], lastSeen: 0 }
      views.push(view)
      client.setHeaders({ cookie: view.cookie })
      client.on('body', body => {
        try {
          view.lastSeen = Math.max(view.lastSeen, JSON.parse(body.toString()).visits)
        } catch {}
      })
    }
  } as unknown as autocannon.Options)
  t.equal(result.errors, 0, `0 errors in ${result.requests.total} requests (${Math.round(result.requests.average)} req/s)`)
  t.equal(result.timeouts, 0, '0 timeouts')
  t.equal(result.non2xx, 0, '0 non-2xx')
  t.equal(new Set(views.map(v => v.cookie)).size, CONNECTIONS, 'every connection had its own session')
  let mismatched = 0
  for (const view of views) {
    const stored = (await store.get((view.cookie.split('=')[1].split('.')[0])))?.data.visits as number
    // the run may stop with one write in flight: it lands without its client seeing the answer
    if (stored !== view.lastSeen && stored !== view.lastSeen + 1) mismatched++
  }
  t.equal(mismatched, 0, 'every session holds what its client last wrote')
}

t.test('RedisStore under load', async t => {
  const server = await startRedis()
  t.teardown(() => server.stop())
  const client = new Redis(server.url, { enableAutoPipelining: true })
  t.teardown(() => client.quit())
  await loadRun(t, new RedisStore({ client }))
})

t.test('DirectoryStore under load', async t => {
  await loadRun(t, new DirectoryStore({ path: join(tempDir(t), 'sessions') }))
})
