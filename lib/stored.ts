// A record back from the store, checked and parsed: the one reader used by the loader, the writer's
// conflict retry, reload() and the legacy import.
import type { FastifyBaseLogger } from 'fastify'
import type { SessionRecord } from '../types/index.js'
import type { ResolvedOptions } from './options.js'
import { errorCodes } from './errors.js'
import { describeIssues, type SessionSchema } from './schema.js'
import { isReservedKey } from './json-value.js'
import { usableRecord } from '../stores/kit/record.js'
import { isPlainObject } from '../stores/kit/json-tree.js'

export interface ParsedData { value: Record<string, unknown>, migrated: boolean }

export class StoredReader {
  readonly #opts: ResolvedOptions
  readonly #schema: SessionSchema

  constructor (opts: ResolvedOptions) {
    this.#opts = opts
    this.#schema = opts.schema
  }

  /** the record a store answered, or undefined (a malformed one is logged and treated as missing) */
  usable (value: unknown, log: FastifyBaseLogger): SessionRecord | undefined {
    const record = usableRecord(value)
    if (record === null) log.warn('the store returned a malformed session record: fresh session')
    return record ?? undefined
  }

  /** stored data through the schema, with the onInvalidData policy; undefined = start over */
  parseStored (stored: unknown, log: FastifyBaseLogger, session: string): ParsedData | undefined {
    const data = withoutReservedKeys(stored, log, session)
    const result = this.#schema.safeParse(data)
    if (result.success) return { value: result.data, migrated: false }
    const policy = this.#opts.onInvalidData
    const why = describeIssues(result.error)
    if (policy === 'error') throw new errorCodes.FST_SESSION_INVALID_STORED_DATA(why)
    if (typeof policy === 'function') {
      const output = policy(data, result.error as never)
      // a migration's result must be plain data too: no prototype of its own (`{ __proto__: … }`), no reserved key
      const problem = prototypeProblem(output)
      const migrated = problem === undefined ? this.#schema.safeParse(output) : undefined
      if (migrated?.success === true) {
        log.info({ session }, 'stored session data migrated to the current schema')
        return { value: migrated.data, migrated: true }
      }
      if (problem !== undefined) log.warn({ session, why: problem }, 'onInvalidData returned data that cannot be a session')
    }
    log.warn({ session, why }, 'stored session data failed the schema: fresh session')
    return undefined
  }

  /** a record and its data, both usable, or undefined (missing, malformed, or data the schema refuses) */
  read (value: unknown, log: FastifyBaseLogger, session: string): { record: SessionRecord, data: ParsedData } | undefined {
    const record = this.usable(value, log)
    const data = record === undefined ? undefined : this.parseStored(record.data, log, session)
    return record === undefined || data === undefined ? undefined : { record, data }
  }
}

/**
 * Stored data without the top-level keys a session never holds (`__proto__`, `constructor`, `prototype`):
 * set() refuses them, so a record holding one was written by something else; they are dropped (and
 * logged) before the schema or a migrate function sees the data. The same object when there is none.
 */
function withoutReservedKeys (stored: unknown, log: FastifyBaseLogger, session: string): unknown {
  if (stored === null || typeof stored !== 'object' || !isPlainObject(stored)) return stored // the schema refuses it
  const own = stored as Record<string, unknown>
  if (!Object.hasOwn(own, '__proto__') && !Object.hasOwn(own, 'constructor') && !Object.hasOwn(own, 'prototype')) return stored
  const clean = Object.create(null) as Record<string, unknown>
  const dropped: string[] = []
  for (const key of Object.keys(own)) {
    if (isReservedKey(key)) dropped.push(key)
    else clean[key] = own[key]
  }
  log.warn({ session, keys: dropped }, 'stored session data held keys a session never holds: dropped')
  return clean
}

/** why a migrate function's result cannot be session data (an object with a prototype of its own, a reserved key), or undefined */
function prototypeProblem (value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined // the schema refuses it
  if (!isPlainObject(value)) return 'an object with a prototype other than Object.prototype'
  for (const key of Object.keys(value)) if (isReservedKey(key)) return `the key "${key}"`
  return undefined
}
