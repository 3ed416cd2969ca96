// The cookie's signer for string secrets under sha256, sha384 or sha512: @fastify/cookie's Signer
// format (`<value>.<HMAC in base64, without padding>`; the first secret signs, every one verifies,
// `renew` when an older one did), its HMAC (RFC 2104) computed from two one-shot hashes of keys padded
// once. A createHmac() re-imports the key and looks the hash up in OpenSSL on every call: ~4.5 µs of
// a new session's request in the server, against ~1.5. Checked against createHmac by a property test.
import crypto, { hash } from 'node:crypto'
import type { CookieSigner } from '../types/index.js'

/** the hashes' block sizes in bytes, which RFC 2104 pads the key to */
const BLOCK: Readonly<Record<string, number>> = { sha256: 64, sha384: 128, sha512: 128 }
/** how long a value may be to be hashed in the key's scratch buffer (a cookie value is ~66 bytes) */
const ROOM = 512

interface PaddedKey {
  /** the key ⊕ ipad, then room for the value */
  inner: Buffer
  /** the key ⊕ opad, then the inner digest: exactly what the outer hash reads */
  outer: Buffer
  /** `inner` up to the end of the last value hashed: a cookie's values are all one length, so made once */
  view: Buffer
}

function padded (secret: string, algorithm: string, block: number, digestBytes: number): PaddedKey {
  let key = Buffer.from(secret, 'utf8')
  if (key.length > block) key = hash(algorithm, key, 'buffer')
  const inner = Buffer.alloc(block + ROOM, 0x36)
  const outer = Buffer.alloc(block + digestBytes, 0x5c)
  for (let i = 0; i < key.length; i++) {
    inner[i] ^= key[i]
    outer[i] ^= key[i]
  }
  return { inner, outer, view: inner.subarray(0, block) }
}

class HmacSigner implements CookieSigner {
  readonly #keys: PaddedKey[]
  readonly #algorithm: string
  readonly #block: number

  constructor (secrets: string[], algorithm: string, block: number) {
    this.#algorithm = algorithm
    this.#block = block
    const digestBytes = hash(algorithm, '', 'buffer').length
    this.#keys = secrets.map(secret => padded(secret, algorithm, block, digestBytes))
  }

  #mac (key: PaddedKey, value: string): string {
    const block = this.#block
    let message: Buffer
    if (value.length <= ROOM / 3) { // a UTF-16 unit is at most 3 bytes of UTF-8: it fits
      const end = block + key.inner.write(value, block)
      message = key.view.length === end ? key.view : (key.view = key.inner.subarray(0, end))
    } else {
      message = Buffer.concat([key.inner.subarray(0, block), Buffer.from(value)])
    }
    // the inner digest as a 'binary' (latin1) string written in place: a digest as a Buffer costs twice as much
    key.outer.write(hash(this.#algorithm, message, 'binary'), block, 'binary')
    const mac = hash(this.#algorithm, key.outer, 'base64')
    // base64 padding has a meaning in cookies: @fastify/cookie drops it
    return mac.charCodeAt(mac.length - 1) !== 61 /* = */ ? mac : mac.slice(0, mac.charCodeAt(mac.length - 2) === 61 ? -2 : -1)
  }

  sign (value: string): string {
    if (typeof value !== 'string') throw new TypeError('Cookie value must be provided as a string.')
    return value + '.' + this.#mac(this.#keys[0], value)
  }

  unsign (signed: string): { valid: boolean, renew: boolean, value: string | null } {
    if (typeof signed !== 'string') throw new TypeError('Signed cookie string must be provided.')
    const dot = signed.lastIndexOf('.')
    if (dot !== -1 && dot !== signed.length - 1) {
      const value = signed.slice(0, dot)
      const actual = Buffer.from(signed.slice(dot + 1))
      for (let i = 0; i < this.#keys.length; i++) {
        const expected = Buffer.from(this.#mac(this.#keys[i], value))
        // looked up on the module at each call, as @fastify/cookie does: a test can watch it
        if (expected.length === actual.length && crypto.timingSafeEqual(expected, actual)) return { valid: true, renew: i !== 0, value }
      }
    }
    return { valid: false, renew: false, value: null }
  }
}

/** the signer for these secrets, or undefined for a hash whose block size is not known here */
export function hmacSigner (secrets: string[], algorithm: string): CookieSigner | undefined {
  const block = BLOCK[algorithm]
  return block === undefined ? undefined : new HmacSigner(secrets, algorithm, block)
}
