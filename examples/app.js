// The example app: `npm start`, then open http://localhost:3000
// Server-rendered pages with login, logout, a visit counter, a cart and "your sessions" (every device
// you are logged in on, with "log out everywhere"), on fastify-zod-session.
// Sessions live in a folder (DirectoryStore) unless SESSION_STORE_URL names another store, e.g.
//   SESSION_STORE_URL=redis://localhost:6379 npm start
import Fastify from 'fastify'
import { z } from 'zod'
import { pathToFileURL } from 'node:url'
import fastifyZodSession from 'fastify-zod-session'

const DEVICE_LIMIT = 3

const SessionSchema = z.object({
  user: z.string().min(1).max(40).optional(),
  visits: z.number().int().default(0),
  cart: z.array(z.object({ item: z.string().max(40), qty: z.number().int().positive() })).max(50).default([]),
  flash: z.string().optional()
})

export async function buildExampleApp (options = {}) {
  const app = Fastify({ logger: options.logger ?? { level: 'info' } })
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' },
    (_request, body, done) => { done(null, Object.fromEntries(new URLSearchParams(body))) })

  // sessions on disk by default: log in, restart the server, and you are still logged in
  // (a file URL's pathname is percent-encoded, so spaces, '%', '?' or '#' in the folder are safe)
  const store = options.store ?? process.env.SESSION_STORE_URL ??
    `dir://${(process.env.SESSION_DIR ? pathToFileURL(process.env.SESSION_DIR) : new URL('.sessions', import.meta.url)).pathname}`
  // the last lifecycle events, shown on "your sessions" (a real app would write an audit log)
  const eventLog = []
  const remember = (event) => { eventLog.unshift(event); eventLog.length = Math.min(eventLog.length, 100) }
  await app.register(fastifyZodSession, {
    secret: process.env.SESSION_SECRET ?? 'example-secret-change-me-it-must-be-32+-chars',
    schema: SessionSchema,
    store,
    owner: (data) => data.user,
    // a 4th device logs the oldest out (memcached cannot list a user's sessions: no limit there)
    maxSessionsPerOwner: typeof store === 'string' && store.startsWith('memcached') ? undefined : { limit: DEVICE_LIMIT, policy: 'evictOldest' },
    events: { regenerated: remember, destroyed: remember, revoked: remember, bindingMismatch: remember, expired: remember }
  })

  app.get('/', async (request, reply) => {
    const session = request.session
    session.data.visits++
    const flash = session.get('flash')
    if (flash !== undefined) session.unset('flash')
    reply.type('text/html; charset=utf-8')
    return page(session, flash)
  })

  app.post('/login', async (request, reply) => {
    const name = String(request.body?.name ?? '').trim()
    if (name === '') {
      request.session.set('flash', 'Please enter a name.')
      return reply.redirect('/', 303)
    }
    await request.session.regenerate(['cart', 'visits']) // new id and secret on login (defeats session fixation); the cart and the counter survive it
    request.session.set('user', name.slice(0, 40))
    request.session.set('flash', `Welcome, ${name.slice(0, 40)}!`)
    return reply.redirect('/', 303)
  })

  // step-up freshness: renaming needs a login within the last 2 minutes; otherwise FST_SESSION_NOT_FRESH
  // (401) comes before the handler, and this route turns it into "log in again"
  app.post('/account/name', {
    config: { session: { fresh: '2m' } },
    errorHandler: (err, request, reply) => {
      if (err.code !== 'FST_SESSION_NOT_FRESH') throw err
      request.session.set('flash', 'Changing your name needs a recent login: please log in again.')
      return reply.redirect('/', 303)
    }
  }, async (request, reply) => {
    const name = String(request.body?.name ?? '').trim().slice(0, 40)
    if (request.session.get('user') !== undefined && name !== '') {
      request.session.set('user', name)
      request.session.set('flash', `You are now ${name}.`)
    }
    return reply.redirect('/', 303)
  })

  app.post('/cart', async (request, reply) => {
    const item = String(request.body?.item ?? '').trim().slice(0, 40)
    if (item !== '') {
      const line = request.session.data.cart.find(l => l.item === item)
      if (line) line.qty++
      else request.session.data.cart.push({ item, qty: 1 })
    }
    return reply.redirect('/', 303)
  })

  app.post('/cart/clear', async (request, reply) => {
    request.session.set('cart', [])
    return reply.redirect('/', 303)
  })

  app.post('/logout', async (request, reply) => {
    await request.session.destroy()
    return reply.redirect('/', 303)
  })

  app.get('/sessions', async (request, reply) => {
    const user = request.session.get('user')
    if (user === undefined) return reply.redirect('/', 303)
    let list
    try {
      list = await app.sessions.list(user)
    } catch (err) {
      if (err.code !== 'FST_SESSION_OWNER_UNSUPPORTED') throw err
      list = null // e.g. memcached cannot list sessions
    }
    const flash = request.session.get('flash')
    if (flash !== undefined) request.session.unset('flash')
    reply.type('text/html; charset=utf-8')
    return sessionsPage(user, list, request.session.id, flash, eventLog.filter(e => e.owner === user).slice(0, 10))
  })

  app.post('/logout-everywhere', async (request, reply) => {
    const user = request.session.get('user')
    const others = request.body?.scope === 'others'
    if (user !== undefined) await app.sessions.revoke(user, others ? { except: request.session } : undefined)
    if (others) request.session.set('flash', 'Your other devices are logged out.')
    return reply.redirect(others ? '/sessions' : '/', 303)
  })

  return app
}

const escape = (s) => String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)

const layout = (title, body) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:16px system-ui;max-width:44rem;margin:2rem auto}form{display:inline}.flash{background:#ffd;padding:.5rem}
table{border-collapse:collapse}td,th{padding:.25rem .6rem;text-align:left;border-bottom:1px solid #ddd}</style></head>
<body>
${body}
</body></html>`

const when = (ms) => ms === undefined || ms === null ? '—' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'

const describeEvent = (e) => ({ regenerated: 'logged in', destroyed: e.reason === 'limit' ? `logged out (more than ${DEVICE_LIMIT} devices)` : 'logged out', revoked: `${e.count} device(s) logged out remotely`, bindingMismatch: 'used from another device', expired: 'session timed out' })[e.type] ?? e.type

function sessionsPage (user, list, current, flash, events) {
  const rows = list === null
    ? '<p>This store cannot list sessions.</p>'
    : `<table id="sessions"><tr><th>device</th><th>signed in</th><th>last seen</th><th>from</th></tr>
${list.map(s => `<tr class="session"><td>${escape(s.userAgent ?? 'unknown')}${s.id === current ? ' <strong class="current">(this device)</strong>' : ''}</td>
<td>${when(s.createdAt)}</td><td>${when(s.lastAccessAt)}</td><td>${escape(s.lastAccessIp ?? s.ip ?? '—')}</td></tr>`).join('\n')}
</table>`
  return layout('Your sessions', `<h1>Your sessions, ${escape(user)}</h1>
${flash ? `<p class="flash" id="flash">${escape(flash)}</p>` : ''}
<p><a href="/">← back</a></p>
${rows}
<p><form method="post" action="/logout-everywhere"><input type="hidden" name="scope" value="others"><button id="logout-others">Log out my other devices</button></form>
<form method="post" action="/logout-everywhere"><button id="logout-everywhere">Log out everywhere</button></form></p>
<p>You can be logged in on up to ${DEVICE_LIMIT} devices: logging in on another logs the oldest out.</p>
<h2>Recent activity</h2>
<table id="events"><tr><th>when</th><th>what</th><th>from</th></tr>
${events.map(e => `<tr class="event"><td>${when(e.at.getTime())}</td><td>${escape(describeEvent(e))}</td><td>${escape(e.userAgent ?? e.ip ?? '—')}</td></tr>`).join('\n')}
</table>`)
}

function page (session, flash) {
  const user = session.get('user')
  const cart = session.get('cart')
  return layout('fastify-zod-session example', `<h1>fastify-zod-session</h1>
${flash ? `<p class="flash" id="flash">${escape(flash)}</p>` : ''}
<p id="visits">Visits this session: <strong>${session.get('visits')}</strong></p>
${user
  ? `<p id="user">Logged in as <strong>${escape(user)}</strong></p>
<p><a href="/sessions" id="your-sessions">Your sessions</a></p>
<form method="post" action="/account/name"><input name="name" placeholder="New name" id="new-name"> <button id="rename">Change my name</button></form>
<form method="post" action="/logout"><button id="logout">Log out</button></form>
<form method="post" action="/logout-everywhere"><button id="logout-everywhere">Log out everywhere</button></form>`
  : '<form method="post" action="/login"><input name="name" placeholder="Your name" id="name"> <button id="login">Log in</button></form>'}
<h2>Cart</h2>
<ul id="cart">${cart.map(l => `<li>${escape(l.item)} × ${l.qty}</li>`).join('') || '<li>empty</li>'}</ul>
<form method="post" action="/cart"><input name="item" placeholder="Item" id="item"> <button id="add">Add</button></form>
<form method="post" action="/cart/clear"><button>Empty the cart</button></form>`)
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const app = await buildExampleApp()
  await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? 'localhost' })
}
