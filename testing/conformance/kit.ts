// What every conformance topic shares: the options, the case type, unique ids, the record factory and
// the comparison, and the Suite a topic adds its cases to.
import assert from 'node:assert/strict'
import type { SessionAuth, SessionRecord, SessionStore } from '../../types/index.js'

export interface ConformanceOptions {
  /** makes a store; stores made with different prefixes (or locations) must not see each other */
  create: (options: { prefix: string }) => Promise<SessionStore>
  /** expiry resolution of the backend in ms (memcached: 1000) */
  granularityMs?: number
  /** the store lists sessions by owner (listByOwner/destroyByOwner/stats); default true */
  ownerIndex?: boolean
  /** the store needs prune() (no native expiry) */
  prune?: boolean
  /**
   * ways this backend lets a stored record go corrupt, each spoiling the record of `id` in a store made
   * with `prefix` so that get() reads it as missing (Redis: a string where the hash is; SQL: JSON that
   * does not parse). Owner scans are checked to skip it and finish the rest.
   */
  corruptions?: Record<string, (target: { prefix: string, id: string }) => Promise<void>>
}

/** One named check; run it from any test runner (`test(c.name, c.run)`). */
export interface TestCase { name: string, run: () => Promise<void> }

let counter = 0
export const uniqueId = (): string => `c${process.pid}x${Date.now().toString(36)}x${(counter++).toString(36)}`

/** compares as JSON-with-Dates values: prototypes (a prototype-free data object) do not matter */
export function same (actual: unknown, expected: unknown, message?: string): void {
  assert.deepStrictEqual(structuredClone(actual), structuredClone(expected), message)
}

export const auth = (current = 'h-current'): SessionAuth => ({ current: [current], replaced: [['h-old', Date.now() + 30_000]], rotateAt: Date.now() + 240_000 })

export function record (data: Record<string, unknown>, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return { data, createdAt: now, expiresAt: now + 600_000, version: 0, auth: auth(), meta: { ip: '127.0.0.1', userAgent: 'conformance' }, ...overrides }
}

/** what a topic gets: the options, and the ways to add its cases to the suite in order */
export interface Suite {
  options: ConformanceOptions
  /** adds a case with its own store (its own prefix), closed afterwards */
  check: (name: string, body: (store: SessionStore) => Promise<void>) => void
  /** adds a case that makes its own stores */
  add: (testCase: TestCase) => void
  /** asserts an expiry equal to `expected` within the backend's granularity */
  near: (actual: number | null | undefined, expected: number, what: string) => void
}

export function suite (options: ConformanceOptions, cases: TestCase[]): Suite {
  const granularity = options.granularityMs ?? 1
  const near = (actual: number | null | undefined, expected: number, what: string): void => {
    assert.ok(typeof actual === 'number' && Math.abs(actual - expected) <= granularity, `${what}: ${String(actual)} ≈ ${expected}`)
  }
  const add = (testCase: TestCase): void => { cases.push(testCase) }
  const check = (name: string, body: (store: SessionStore) => Promise<void>): void => {
    add({
      name,
      run: async () => {
        const store = await options.create({ prefix: `${uniqueId()}:` })
        try {
          await body(store)
        } finally {
          await store.close?.()
        }
      }
    })
  }
  return { options, check, add, near }
}
