import t from 'tap'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import type { SessionAuth } from '../types/index.js'
import {
  CLOCK_SKEW, MAX_CURRENT, MAX_REPLACED, hashSecret, initialAuth, legacySecret, legacySessionId, legacyTombstoneId, newId, newSecret,
  rotatedAuth, rotationDue, sameHash
} from '../lib/secrets.js'

// lib/secrets.ts on its own: the credential's rules, without a plugin around them.
const HASH = fc.stringMatching(/^[A-Za-z0-9_-]{43}$/)

t.test('ids are 128 random bits and secrets 256, base64url, never repeated', async t => {
  const ids = new Set<string>()
  const secrets = new Set<string>()
  for (let i = 0; i < 5000; i++) {
    const id = newId()
    const secret = newSecret()
    if (!/^[A-Za-z0-9_-]{22}$/.test(id)) t.fail(`id ${id}`)
    if (!/^[A-Za-z0-9_-]{43}$/.test(secret)) t.fail(`secret ${secret}`)
    ids.add(id)
    secrets.add(secret)
  }
  t.equal(ids.size, 5000)
  t.equal(secrets.size, 5000)
  t.equal(Buffer.from(newId(), 'base64url').length, 16)
  t.equal(Buffer.from(newSecret(), 'base64url').length, 32)
})

t.test('the stored hash is SHA-256 of the secret, base64url', async t => {
  fc.assert(fc.property(fc.string(), secret => hashSecret(secret) === createHash('sha256').update(secret).digest('base64url')))
  t.not(hashSecret('a'), hashSecret('b'))
})

t.test('property: sameHash is string equality', async t => {
  fc.assert(fc.property(HASH, HASH, fc.boolean(), (a, b, same) => sameHash(a, same ? a : b) === (same || a === b)), { numRuns: 2000 })
  t.notOk(sameHash('abc', 'abcd'), 'lengths differ')
  t.ok(sameHash('', ''))
})

t.test('a new session has one current secret and, with rotation on, a rotation time', async t => {
  t.same(initialAuth('s', undefined), { current: [hashSecret('s')], replaced: [] })
  t.same(initialAuth('s', 123), { current: [hashSecret('s')], replaced: [], rotateAt: 123 })
})

t.test('rotation is due at rotateAt, or up to CLOCK_SKEW before it', async t => {
  t.ok(rotationDue({ current: [], replaced: [] }, 0), 'no rotateAt: due')
  t.ok(rotationDue({ current: [], replaced: [], rotateAt: 1000 + CLOCK_SKEW }, 1000))
  t.notOk(rotationDue({ current: [], replaced: [], rotateAt: 1001 + CLOCK_SKEW }, 1000))
})

const AUTH = fc.record({
  current: fc.array(HASH, { minLength: 1, maxLength: MAX_CURRENT }),
  replaced: fc.array(fc.tuple(HASH, fc.integer({ min: 0, max: 20_000 })), { maxLength: MAX_REPLACED }),
  rotateAt: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined })
}).map(({ rotateAt, ...auth }): SessionAuth => rotateAt === undefined ? auth : { ...auth, rotateAt })

t.test('property: a due rotation replaces every current secret for the grace window and schedules the next', async t => {
  fc.assert(fc.property(AUTH, HASH, fc.integer({ min: 0, max: 20_000 }), (read, fresh, now) => {
    if (!rotationDue(read, now)) return true
    const next = rotatedAuth(read, fresh, now, 30_000, 240_000)
    const inGrace = read.replaced.filter(([, until]) => until > now)
    return next.current.length === 1 && next.current[0] === fresh &&
      next.rotateAt === now + 240_000 &&
      next.replaced.length === Math.min(MAX_REPLACED, read.current.length + inGrace.length) &&
      read.current.slice(0, MAX_REPLACED).every((hash, i) => next.replaced[i][0] === hash && next.replaced[i][1] === now + 30_000) &&
      next.replaced.every(([, until]) => until > now)
  }), { numRuns: 1000 })
  t.pass()
})

t.test('property: a rotation that is not due adds the new secret first, keeps the schedule, drops what is past its grace', async t => {
  fc.assert(fc.property(AUTH, HASH, fc.integer({ min: 0, max: 20_000 }), (read, fresh, now) => {
    if (rotationDue(read, now)) return true
    const next = rotatedAuth(read, fresh, now, 30_000, 240_000)
    return next.current[0] === fresh && next.current.length <= MAX_CURRENT &&
      next.current.slice(1).every((hash, i) => hash === read.current[i]) &&
      next.rotateAt === read.rotateAt &&
      next.replaced.every(([, until]) => until > now) &&
      next.replaced.length === read.replaced.filter(([, until]) => until > now).length
  }), { numRuns: 1000 })
  t.pass()
})

t.test('legacy derivations: fixed per old id, apart from each other, the secret keyed by the app secret', async t => {
  fc.assert(fc.property(fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), (a, b) => {
    const id = legacySessionId(a)
    return /^[A-Za-z0-9_-]{22}$/.test(id) && id === legacySessionId(a) && id !== legacyTombstoneId(a) &&
      (a === b) === (id === legacySessionId(b))
  }))
  const secret = legacySecret('x'.repeat(32), 'old')
  t.match(secret, /^[A-Za-z0-9_-]{43}$/)
  t.equal(secret, legacySecret('x'.repeat(32), 'old'))
  t.not(secret, legacySecret('y'.repeat(32), 'old'), 'another app secret, another derived secret')
  t.not(secret, legacySecret('x'.repeat(32), 'old2'))
})
