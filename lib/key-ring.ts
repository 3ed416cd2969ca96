// Encryption at rest: the `encryption` option validated into a key ring, and the sealing of one value.
// A sealed value is a string `fzs1.<key id>.<base64url(iv ‖ ciphertext ‖ tag)>` (AES-256-GCM, a random
// 96-bit IV per value); the additional authenticated data names the session and the field, so a value
// copied into another session, or under another key of the same session, fails to open.
import { createCipheriv, createDecipheriv, createSecretKey, randomFillSync, type KeyObject } from 'node:crypto'
import type { EncryptionOptions } from '../types/index.js'
import { parse, stringify } from '../stores/kit/codec.js'
import { entrySize } from '../stores/kit/record.js'
import { errorCodes } from './errors.js'

const PREFIX = 'fzs1.'
const IV_BYTES = 12
const TAG_BYTES = 16
const KEY_BYTES = 32
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,64}$/
/** random IVs are drawn from a pool: one randomFillSync per 256 values instead of one per value */
const IV_POOL_VALUES = 256

/** why a stored value does not open: the record is treated as corrupt */
export class SealError extends Error {}

export interface Opened {
  value: unknown
  /** sealed under a key other than the current one, or not sealed at all (acceptPlaintext) */
  stale: boolean
}

export class KeyRing {
  readonly acceptPlaintext: boolean
  readonly #keys: Map<string, KeyObject>
  readonly #current: KeyObject
  readonly #currentId: string
  readonly #head: string
  #pool = Buffer.alloc(0)
  #scratch = Buffer.alloc(1024)
  #poolAt = 0

  constructor (keys: Array<{ id: string, key: Buffer }>, acceptPlaintext: boolean) {
    this.#keys = new Map(keys.map(({ id, key }) => [id, createSecretKey(key)]))
    this.#currentId = keys[0].id
    this.#current = this.#keys.get(this.#currentId) as KeyObject
    this.#head = `${PREFIX}${this.#currentId}.`
    this.acceptPlaintext = acceptPlaintext
  }

  /** `value` (JSON with Dates kept, as the stores keep them) encrypted under the current key, bound to `aad` */
  seal (value: unknown, aad: string): string {
    const iv = this.#iv()
    const cipher = createCipheriv('aes-256-gcm', this.#current, iv)
    cipher.setAAD(Buffer.from(aad))
    const body = cipher.update(stringify(value), 'utf8')
    const rest = cipher.final()
    return this.#head + Buffer.concat([iv, body, rest, cipher.getAuthTag()]).toString('base64url')
  }

  /**
   * What `data` measures (the contract's measure, SessionPatch.maxBytes) once every value is sealed under
   * the first key: a sealed value's length follows from its plaintext's (GCM adds nothing but the tag)
   */
  sealedSize (data: Record<string, unknown>): { plain: number, sealed: number } {
    let plain = 0
    let sealed = 0
    for (const key of Object.keys(data)) {
      if (data[key] === undefined) continue
      const entry = entrySize(key, data[key])
      const keyBytes = Buffer.byteLength(key)
      plain += entry
      // the key, the envelope's quotes and head, and base64url (unpadded) of IV ‖ ciphertext ‖ tag
      sealed += keyBytes + 2 + this.#head.length + Math.ceil(4 * (IV_BYTES + TAG_BYTES + entry - keyBytes) / 3)
    }
    return { plain, sealed }
  }

  /** whether `stored` is an envelope under the first key (read from its head: nothing is decrypted) */
  current (stored: unknown): boolean {
    return typeof stored === 'string' && stored.startsWith(this.#head)
  }

  /** the value sealed in `stored` for `aad`; throws SealError when it does not open */
  open (stored: unknown, aad: string): Opened {
    if (typeof stored !== 'string' || !stored.startsWith(PREFIX)) {
      if (this.acceptPlaintext) return { value: stored, stale: true }
      throw new SealError('a value that is not encrypted (set encryption.acceptPlaintext while sessions written before encryption are still live)')
    }
    const dot = stored.indexOf('.', PREFIX.length)
    const id = dot === -1 ? '' : stored.slice(PREFIX.length, dot)
    const key = this.#keys.get(id)
    if (key === undefined) throw new SealError(`a value encrypted under the key id "${id.slice(0, 64)}", which encryption.keys does not hold`)
    // decoded into a scratch buffer (the decipher copies the IV and tag, and reads the ciphertext once)
    const body = stored.slice(dot + 1)
    if (this.#scratch.length < body.length) this.#scratch = Buffer.allocUnsafe(Math.max(body.length, 2 * this.#scratch.length))
    const bytes = this.#scratch.write(body, 'base64url')
    if (bytes < IV_BYTES + TAG_BYTES + 1) throw new SealError('a truncated encrypted value')
    const raw = this.#scratch
    let text: string
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES))
      decipher.setAAD(Buffer.from(aad))
      decipher.setAuthTag(raw.subarray(bytes - TAG_BYTES, bytes))
      text = decipher.update(raw.subarray(IV_BYTES, bytes - TAG_BYTES), undefined, 'utf8') + decipher.final('utf8')
    } catch {
      throw new SealError('an encrypted value that fails authentication (altered, moved from another session or field, or under another key with the same id)')
    }
    try {
      return { value: parse(text), stale: id !== this.#currentId }
    } catch {
      throw new SealError('an encrypted value that is not JSON')
    }
  }

  #iv (): Buffer {
    if (this.#poolAt + IV_BYTES > this.#pool.length) {
      this.#pool = randomFillSync(Buffer.allocUnsafe(IV_BYTES * IV_POOL_VALUES))
      this.#poolAt = 0
    }
    const iv = this.#pool.subarray(this.#poolAt, this.#poolAt + IV_BYTES)
    this.#poolAt += IV_BYTES
    return iv
  }
}

/** options.encryption validated: null when off; FST_SESSION_INVALID_OPTIONS naming the problem otherwise */
export function resolveEncryption (value: unknown): KeyRing | null {
  if (value === undefined || value === null) return null
  const fail = (option: string, why: string): never => { throw new errorCodes.FST_SESSION_INVALID_OPTIONS(`encryption${option}`, why) }
  if (typeof value !== 'object') fail('', 'must be an object like { keys: [{ id, key }] }')
  const { keys, acceptPlaintext } = value as EncryptionOptions
  if (!Array.isArray(keys) || keys.length === 0) fail('.keys', 'must be a non-empty array of { id, key }: the first encrypts, every one decrypts')
  if (acceptPlaintext !== undefined && typeof acceptPlaintext !== 'boolean') fail('.acceptPlaintext', 'must be a boolean')
  const seen = new Set<string>()
  const ring = keys.map((entry, i) => {
    const at = `.keys[${i}]`
    if (entry === null || typeof entry !== 'object') fail(at, 'must be an object { id, key }')
    const { id, key } = entry
    if (typeof id !== 'string' || !KEY_ID_RE.test(id)) fail(`${at}.id`, 'must be 1 to 64 characters A-Z a-z 0-9 _ - (it is stored beside each encrypted value)')
    if (seen.has(id)) fail(`${at}.id`, `"${id}" is used twice: every key needs its own id`)
    seen.add(id)
    return { id, key: keyBytes(key, `${at}.key`, fail) }
  })
  return new KeyRing(ring, acceptPlaintext === true)
}

/** a 32-byte key: a Buffer (or Uint8Array) of 32 bytes, or a string of them in base64, base64url or hex */
function keyBytes (key: unknown, option: string, fail: (option: string, why: string) => never): Buffer {
  const how = 'must be 32 random bytes: a Buffer, or a string of them in base64 (44 characters, `openssl rand -base64 32`) or hex (64 characters)'
  if (key instanceof Uint8Array) {
    if (key.length !== KEY_BYTES) fail(option, `is ${key.length} bytes; ${how}`)
    return Buffer.from(key)
  }
  if (typeof key !== 'string') fail(option, how)
  const text = key as string
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex')
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) {
    const bytes = Buffer.from(text, 'base64')
    if (bytes.length === KEY_BYTES) return bytes
  }
  return fail(option, `is not 32 bytes in base64 or hex (${text.length} characters); ${how}`)
}
