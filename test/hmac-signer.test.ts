// The cookie's own HMAC signer (string secrets under sha256/384/512) against @fastify/cookie's Signer,
// whose format it keeps and whose createHmac() it replaces: the same signatures, the same verdicts.
import t from 'tap'
import fc from 'fast-check'
import { Signer } from '@fastify/cookie'
import { hmacSigner } from '../lib/hmac-signer.js'
import { signer } from '../lib/signer-options.js'

const algorithm = fc.constantFrom('sha256', 'sha384', 'sha512')
/** at least 32 characters, as the option requires; longer than a block (then hashed first) included */
const secret = fc.string({ unit: 'binary', minLength: 32, maxLength: 200 })
/**
 * a cookie value, around the length past which the value may not fit the signer's scratch room (170
 * UTF-16 units: 512 bytes of UTF-8 at most), and longer than the room; unicode and lone surrogates included
 */
const value = fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), fc.string({ unit: 'binary', minLength: 160, maxLength: 180 }),
  fc.string({ unit: 'binary', minLength: 500, maxLength: 700 }), fc.constant('a\ud800b'))

t.test('signs as @fastify/cookie does, and agrees on every verdict: genuine, rotated, tampered, garbage', async t => {
  fc.assert(fc.property(algorithm, fc.array(secret, { minLength: 1, maxLength: 3 }), value, fc.string({ unit: 'binary', maxLength: 120 }), (algo, secrets, v, garbage) => {
    const ours = hmacSigner(secrets, algo)!
    const theirs = new Signer(secrets, algo)
    const signed = ours.sign(v)
    t.equal(signed, theirs.sign(v))
    for (const input of [signed, new Signer(secrets.slice(-1), algo).sign(v), signed.slice(0, -1), signed + 'A', `${v}.${garbage}`, garbage, `${garbage}.`, '.']) {
      t.same(ours.unsign(input), theirs.unsign(input), JSON.stringify(input).slice(0, 60))
    }
  }), { numRuns: 300 })
})

t.test('the plugin signs with it for sha256, sha384 and sha512, with @fastify/cookie for any other hash', async t => {
  const secrets = ['a'.repeat(32), 'b'.repeat(32)]
  for (const algo of ['sha256', 'sha384', 'sha512']) t.notOk(signer(secrets, algo) instanceof Signer, algo)
  t.ok(signer(secrets, 'sha3-256') instanceof Signer)
  t.equal(signer(secrets, 'sha3-256').sign('x'), new Signer(secrets, 'sha3-256').sign('x'))
  t.equal(hmacSigner(secrets, 'sha3-256'), undefined)
})

t.test('a value not a string is refused as @fastify/cookie refuses it', async t => {
  const ours = hmacSigner(['a'.repeat(32)], 'sha256')!
  t.throws(() => ours.sign(1 as unknown as string), TypeError)
  t.throws(() => ours.unsign(null as unknown as string), TypeError)
})

t.test('the secrets are read at registration: an app changing its array afterwards changes nothing, under any hash', async t => {
  for (const algo of ['sha256', 'sha3-256']) {
    const list = ['a'.repeat(32), 'b'.repeat(32)]
    const made = signer(list, algo)
    const old = new Signer(['b'.repeat(32)], algo).sign('v')
    list.unshift('c'.repeat(32))
    list.pop()
    t.same(made.unsign(old), { valid: true, renew: true, value: 'v' }, algo)
    t.equal(made.sign('v'), new Signer(['a'.repeat(32)], algo).sign('v'), algo)
  }
})
