import t from 'tap'
import { buildApp, sessionCookie } from './helpers/app.js'

// The request API of @fastify/session, which plugins such as @fastify/csrf-protection,
// @fastify/flash and @fastify/passport call.
t.test('callback and promise forms of save, reload, regenerate and destroy', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/callbacks', (request, reply) => {
      request.session.set('a', 'one')
      request.session.save(err => {
        if (err) return reply.send(err)
        request.session.set('a', 'unsaved')
        request.session.reload(err => {
          if (err) return reply.send(err)
          const afterReload = request.session.get('a')
          const before = request.session.sessionId
          request.session.regenerate(err => {
            if (err) return reply.send(err)
            reply.send({ afterReload, changed: before !== request.session.sessionId, sessionId: request.session.sessionId })
          })
        })
      })
    })
    app.post('/destroy-cb', (request, reply) => {
      request.session.destroy(err => { reply.send({ err: err ?? null, isNew: request.session.isNew }) })
    })
    app.post('/null-on-success', (request, reply) => {
      request.session.save(err => { reply.send({ isNull: err === null }) })
    })
    app.post('/touch', async (request) => { request.session.touch(); return {} })
  })
  t.same((await app.inject({ method: 'POST', url: '/null-on-success' })).json(), { isNull: true }, 'success calls back with null, as Node callbacks and @fastify/session do')
  const res = await app.inject({ method: 'POST', url: '/callbacks' })
  const body = res.json()
  t.equal(body.afterReload, 'one', 'reload dropped the unsaved change')
  t.equal(body.changed, true)
  const cookie = sessionCookie(res)!
  t.equal(cookie.split('=')[1].split('.')[0], body.sessionId, 'the cookie carries the regenerated id')
  t.equal((await app.inject({ url: '/read', headers: { cookie } })).statusCode, 200)
  const touched = await app.inject({ method: 'POST', url: '/touch', headers: { cookie } })
  t.ok(sessionCookie(touched), 'touch() refreshes the cookie at once')
  const destroyed = await app.inject({ method: 'POST', url: '/destroy-cb', headers: { cookie } })
  t.same(destroyed.json(), { err: null, isNew: true })
})

t.test('save() persists mid-request, and onSend then writes nothing more', async t => {
  const { CountingStore } = await import('./helpers/counting-store.js')
  const store = new CountingStore()
  const app = await buildApp(t, { store }, app => {
    app.post('/save', async (request) => {
      request.session.set('a', 'saved')
      await request.session.save()
      return { writes: store.writes() }
    })
  })
  const res = await app.inject({ method: 'POST', url: '/save' })
  t.same(res.json(), { writes: 1 })
  t.equal(store.writes(), 1)
  t.ok(sessionCookie(res))
})

t.test('has, unset and clear', async t => {
  const app = await buildApp(t, {}, app => {
    app.post('/ops', async (request) => {
      request.session.set('a', 'x')
      const had = request.session.has('a')
      request.session.unset('a')
      const after = request.session.has('a')
      request.session.set('b', 'y')
      request.session.clear()
      return { had, after, data: request.session.data }
    })
  })
  t.same((await app.inject({ method: 'POST', url: '/ops' })).json(), { had: true, after: false, data: { visits: 0, cart: [] } })
})
