// What every store can carry: a value the schema and JSON accept is stored and read
// back identically on every store, or refused at set() with the same 4xx FST_ code on every store; never a
// 503 because one backend cannot carry it (PostgreSQL's jsonb and text refuse NUL and lone surrogates,
// MongoDB cannot $set a key with '.' or a leading '$', a Date-marker object comes back as a Date from the
// stores that serialize). Every store on its real backend, through the plugin, on create and on patch.
// At the store boundary too: an old session to import, or an owner to list or revoke, holding what no
// backend can carry (NUL, a lone surrogate) is never a 503.
import t, { type Test } from 'tap'
import { isDeepStrictEqual } from 'node:util'
import { z } from 'zod'
import type { FastifyInstance } from 'fastify'
import type { SessionStore } from '../types/index.js'
import { allStores } from './helpers/all-stores.js'
import { buildApp, sessionCookie, TestSchema } from './helpers/app.js'
import { tempDir } from './helpers/tmp.js'
import { GatedOldStore, clearsOld, legacyApp, oldLogin } from '../testing/legacy-races.js'

t.setTimeout(600_000)

function nested (levels: number): unknown {
  let value: unknown = 'bottom'
  for (let i = 0; i < levels; i++) value = i % 2 === 0 ? { a: value } : [value]
  return value
}

interface Case {
  name: string
  /** 400: refused at set() (FST_SESSION_INVALID_DATA); 200: stored and read back identically */
  expect: 400 | 200
  /** the session key (default 'v') and its value */
  key?: string
  value?: unknown
  /** instead: the data the owner function derives the owner from */
  owner?: { userId: string, tenant?: string }
}

const cases: Case[] = [
  { name: 'a NUL in a string', expect: 400, value: 'a\u0000b' },
  { name: 'a lone high surrogate', expect: 400, value: 'x\ud800y' },
  { name: 'a lone low surrogate at the end', expect: 400, value: ['ok', 'x\udc00'] },
  { name: 'a NUL in a nested key', expect: 400, value: { 'a\u0000b': 1 } },
  { name: 'a lone surrogate in a nested key', expect: 400, value: { '\ud800': 1 } },
  { name: 'a NUL in a session key', expect: 400, key: 'a\u0000b', value: 1 },
  { name: 'a lone surrogate in a session key', expect: 400, key: 'k\udfff', value: 1 },
  { name: "a session key with '.'", expect: 400, key: 'a.b', value: 1 },
  { name: "a session key starting with '$'", expect: 400, key: '$where', value: 1 },
  { name: 'an empty session key', expect: 400, key: '', value: 1 },
  { name: 'an object that is the codec\'s Date marker', expect: 400, value: { when: { $date: '2020-01-01T00:00:00.000Z' } } },
  { name: 'a value nested 65 deep', expect: 400, value: nested(65) },
  { name: 'a value nested 5,000 deep', expect: 400, value: nested(5000) },
  { name: 'an owner holding a lone surrogate (the owner function cut a surrogate pair)', expect: 400, owner: { userId: 'abcdefg🍣' } },
  { name: 'an owner holding a NUL (the owner function joins with one)', expect: 400, owner: { userId: 'bob', tenant: 'acme' } },
  { name: 'surrogate pairs, control characters, U+2028, U+FFFF', expect: 200, value: { text: '🍣 Zoë 山田 \u0001\u001f\u2028\u2029\ufeff\uffff "\\', '🍣 key': ['\ud83d\ude00'] } },
  { name: 'a value nested 64 deep', expect: 200, value: nested(64) },
  { name: "keys with '.' and '$' below the top, a \"$date\" key beside others", expect: 200, value: { 'a.b': { $c: 1, '': 2 }, d: { $date: '2020-01-01T00:00:00.000Z', e: 1 } } },
  { name: 'an owner of surrogate pairs', expect: 200, owner: { userId: 'zoë🍣' } }
]

const Schema = TestSchema.extend({ tenant: z.string().optional() })
/** an owner function as apps write them: a prefix of the user id, or tenant and user joined */
const owner = (data: { userId?: string, tenant?: string }): string | undefined =>
  data.tenant === undefined ? data.userId?.slice(0, 8) : `${data.tenant}\u0000${data.userId ?? ''}`

async function app (t: Test, store: SessionStore): Promise<FastifyInstance> {
  return await buildApp(t, { store, schema: Schema as never, owner: owner as never, pruneInterval: null }, app => {
    app.post('/case/:n', async request => {
      const c = cases[Number((request.params as { n: string }).n)]
      const session = request.session as unknown as { set: (k: string, v: unknown) => void }
      if (c.owner === undefined) session.set(c.key ?? 'v', c.value)
      else {
        if (c.owner.tenant !== undefined) session.set('tenant', c.owner.tenant)
        session.set('userId', c.owner.userId)
      }
      return { ok: true }
    })
    app.get('/case/:n', async request => {
      const c = cases[Number((request.params as { n: string }).n)]
      const session = request.session as unknown as { get: (k: string) => unknown }
      return { same: c.owner === undefined ? isDeepStrictEqual(session.get(c.key ?? 'v'), c.value) : session.get('userId') === c.owner.userId }
    })
  })
}
const stores = await allStores(tempDir(t))
t.teardown(async () => { for (const s of stores) await s.cleanup() })

t.test('every value: stored and read back identically on every store, or refused at set() with the same 400 on every store', async t => {
  const seen = new Map<string, Map<string, string>>()
  for (const { name, store } of stores) {
    const instance = await app(t, store)
    for (let n = 0; n < cases.length; n++) {
      for (const mode of ['create', 'patch'] as const) {
        const login = mode === 'patch' ? sessionCookie(await instance.inject({ method: 'POST', url: '/login/alice' })) : undefined
        const res = await instance.inject({ method: 'POST', url: `/case/${n}`, headers: login === undefined ? {} : { cookie: login } })
        let outcome = `${res.statusCode} ${String(res.json().code ?? '')}`.trim()
        if (res.statusCode === 200) {
          const cookie = sessionCookie(res) ?? login
          const back = await instance.inject({ url: `/case/${n}`, headers: { cookie: cookie! } })
          if (back.json().same !== true) outcome += ' but read back different'
        }
        const key = `${cases[n].name} (${mode})`
        if (!seen.has(key)) seen.set(key, new Map())
        seen.get(key)!.set(name, outcome)
      }
    }
  }
  for (const [key, byStore] of seen) {
    const expected = cases.find(c => key.startsWith(c.name + ' ('))!.expect === 400 ? '400 FST_SESSION_INVALID_DATA' : '200'
    const outcomes = Object.fromEntries(byStore)
    t.same(outcomes, Object.fromEntries([...byStore.keys()].map(name => [name, expected])), `${key}: ${expected} on every store`)
  }
})

t.test('an old session holding a NUL is not imported on any store: a fresh session and the old cookie cleared, never a 503', async t => {
  for (const { name, store } of stores) {
    const old = new GatedOldStore()
    const instance = await legacyApp(store, old)
    t.teardown(() => instance.close())
    const { sid, cookie } = oldLogin(old, 'ada')
    old.sessions.get(sid)!.cart = ['a\u0000b']
    const res = await instance.inject({ url: '/me', headers: { cookie } })
    t.equal(res.statusCode, 200, name)
    t.same(res.json(), { userId: null }, `${name}: not imported`)
    t.ok(clearsOld(res), `${name}: the old cookie is cleared`)
  }
})

t.test('fastify.sessions.list/revoke of an owner no session can have (NUL, a lone surrogate): empty, never a 503', async t => {
  for (const { name, store } of stores) {
    if (typeof store.listByOwner !== 'function') continue
    const instance = await app(t, store)
    for (const impossible of ['a\u0000b', 'x\ud800y']) {
      t.same(await instance.sessions.list(impossible), [], `${name}: list of ${JSON.stringify(impossible)}`)
      t.equal(await instance.sessions.revoke(impossible), 0, `${name}: revoke of ${JSON.stringify(impossible)}`)
    }
  }
})
