'use strict'
// @fastify/session's options mapped onto this plugin, so that @fastify/session's own test suite can be
// run against it (test/compat/run.mjs). Its stores are express-session stores holding our records.
const fp = require('fastify-plugin')
const { z } = require('zod')
const plugin = require('../../lib/require.cjs')
const { applyPatch, applyRotate, isLive } = require('../../dist/esm/stores/kit/record.js')

function wrap (store) {
  const call = (method, ...args) => new Promise((resolve, reject) => {
    store[method](...args, (err, value) => err ? reject(err) : resolve(value))
  })
  const get = async id => {
    const record = await call('get', id)
    return record && isLive(record) ? record : undefined
  }
  const update = async (id, change) => {
    const record = await get(id)
    const result = change(record)
    if (result.write) await call('set', id, record)
    return result.value
  }
  return {
    get,
    set: (id, record) => call('set', id, record),
    patch: (id, change) => update(id, record => { const value = applyPatch(record, change); return { write: value === 'ok', value } }),
    rotate: (id, from, auth) => update(id, record => { const value = applyRotate(record, from, auth); return { write: value, value } }),
    touch: (id, expiresAt) => update(id, record => { if (record) record.expiresAt = expiresAt; return { write: !!record, value: !!record } }),
    destroy: async id => { const record = await get(id); await call('destroy', id); return record !== undefined }
  }
}

// Passed through as they are: secret (strings, arrays, signer objects), algorithm, idGenerator, cookie
// attributes (sameSite 'none' with secure 'auto' included), and whatever this plugin refuses (its
// refusal is then the result). Mapped: @fastify/session's defaults (cookie name, secure: true,
// saveUninitialized: true) and its lifetime (cookie.maxAge → idleTimeout, no absolute timeout, no
// rotation). Left out: rolling (sessions here always slide) and cookiePrefix (no equivalent).
function adapted (options = {}) {
  const { store, cookieName = 'sessionId', cookie = {}, saveUninitialized = true, rolling, cookiePrefix, ...rest } = options
  const { maxAge, expires, secure = true, ...attributes } = cookie
  return {
    ...rest,
    schema: z.object({}).catchall(z.unknown()),
    store: store === undefined ? undefined : wrap(store),
    cookieName,
    saveUninitialized,
    cookie: { ...attributes, secure },
    // @fastify/session without maxAge: a browser-session cookie and no server-side lifetime
    idleTimeout: maxAge === undefined ? null : Math.max(maxAge, 1) / 1000,
    absoluteTimeout: null,
    rotationInterval: null
  }
}

module.exports = fp(async function fastifySessionAdapter (fastify, options) {
  await fastify.register(plugin, adapted(options))
}, { fastify: '5.x', name: '@fastify/session' })
module.exports.default = module.exports
module.exports.fastifySession = module.exports
module.exports.MemoryStore = class MemoryStore {}
