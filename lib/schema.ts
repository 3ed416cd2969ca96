// The few things the plugin needs from a zod schema, without importing zod at run time.

import { dataRefusal, jsonProblem, keyRefusal, valueRefusal } from './json-value.js'
import { errorCodes } from './errors.js'

interface Issue { path: PropertyKey[], message: string }
export interface SchemaError { issues: Issue[] }
type SafeParse = { success: true, data: any } | { success: false, error: SchemaError }

export interface SessionSchema {
  safeParse (value: unknown): SafeParse
  _zod?: { def: { type: string, shape?: Record<string, SessionSchema>, catchall?: SessionSchema, checks?: unknown[] } }
}

const transforming = new WeakMap<object, boolean>()

/** Whether the schema has a .transform() (or a lazy part) anywhere: its output may not pass it again. */
function mayTransform (schema: SessionSchema): boolean {
  let known = transforming.get(schema)
  if (known === undefined) {
    known = walk(schema, new Set())
    transforming.set(schema, known)
  }
  return known
}

function walk (node: unknown, seen: Set<unknown>): boolean {
  if (node === null || typeof node !== 'object' || seen.has(node)) return false
  seen.add(node)
  const def = (node as SessionSchema)._zod?.def as Record<string, unknown> | undefined
  if (def === undefined) return Array.isArray(node) || Object.getPrototypeOf(node) === Object.prototype ? Object.values(node).some(v => walk(v, seen)) : false
  if (def.type === 'transform' || def.type === 'lazy') return true
  return Object.values(def).some(v => walk(v, seen))
}

/** A value as the session stores it must pass the schema again when loaded, and survive JSON. */
function storable (keySchema: SessionSchema, key: string, value: unknown, fresh: boolean): string | undefined {
  if (value === undefined || fresh) return undefined // the key is absent, or the schema only outputs JSON
  const problem = jsonProblem(value, key)
  if (problem !== undefined) return problem
  if (mayTransform(keySchema) && !keySchema.safeParse(value).success) {
    return `${key}: the schema's output does not pass the schema again (a .transform() that changes the type); sessions store the parsed value and parse it again on every load`
  }
  return undefined
}

export function describeIssues (error: SchemaError): string {
  return error.issues.slice(0, 5)
    .map(i => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ')
}

/**
 * Why set() refused a value: `client` when the value itself cannot be stored on every store (lib/json-value's
 * refusals: a reserved key, NUL, a lone surrogate, too deep), which is answered 400, not an app bug (500).
 */
export interface Refused { ok: false, why: string, client?: true }

/** FST_SESSION_INVALID_DATA for a refusal: a 400 when it is the value's content (what a client sent), else a 500 */
export function invalidData (refused: Refused): Error {
  const err = new errorCodes.FST_SESSION_INVALID_DATA(refused.why)
  if (refused.client === true) err.statusCode = 400
  return err
}

/**
 * Validates one top-level key's new value. For an object schema only that key's schema runs;
 * for any other schema (unions, pipes) the whole data with the new value is validated.
 * Returns the parsed value, or a description of what is wrong. `fresh`: the value is plain JSON that
 * only the session references (see outputsFreshJson below), so it needs no validating again before it is saved.
 * What no store could carry as it is (json-value's refusals) is refused before the schema runs, so a
 * schema never walks a value nested past MAX_NESTING.
 */
export function validateKey (schema: SessionSchema, data: Record<string, unknown>, key: string, value: unknown):
{ ok: true, value: unknown, fresh: boolean } | Refused {
  const refused = keyRefusal(key) ?? valueRefusal(value, key)
  if (refused !== undefined) return { ok: false, why: refused, client: true }
  const def = schema._zod?.def
  if (def?.type === 'object' && def.shape !== undefined) {
    const keySchema = Object.hasOwn(def.shape, key) ? def.shape[key] : def.catchall
    if (keySchema === undefined || keySchema._zod?.def.type === 'never') return { ok: false, why: `"${key}" is not a key of the session schema` }
    const result = keySchema.safeParse(value)
    if (!result.success) return { ok: false, why: describeIssues({ issues: result.error.issues.map(i => ({ ...i, path: [key, ...i.path] })) }) }
    // a transform's output is checked as the input was
    const transformed = result.data !== value && mayTransform(keySchema) ? valueRefusal(result.data, key) : undefined
    if (transformed !== undefined) return { ok: false, why: transformed, client: true }
    // a default stands in for undefined input: it is not a parsed copy, so it is walked
    const fresh = value !== undefined && outputsFreshJson(keySchema)
    const problem = storable(keySchema, key, result.data, fresh)
    return problem === undefined ? { ok: true, value: result.data, fresh } : { ok: false, why: problem }
  }
  const whole = validateData(schema, { ...data, [key]: value })
  return whole.ok ? { ok: true, value: whole.value[key], fresh: false } : whole
}

/**
 * The whole data through the schema, for schemas validated whole and for data replaced whole: refused
 * first when some store could not carry it (json-value's refusals), then parsed, then checked to
 * survive JSON.
 */
export function validateData (schema: SessionSchema, data: Record<string, unknown>):
{ ok: true, value: Record<string, unknown> } | Refused {
  const refused = dataRefusal(data)
  if (refused !== undefined) return { ok: false, why: refused, client: true }
  const result = schema.safeParse(data)
  if (!result.success) return { ok: false, why: describeIssues(result.error) }
  const value = result.data as Record<string, unknown>
  const transformed = mayTransform(schema) ? dataRefusal(value) : undefined
  if (transformed !== undefined) return { ok: false, why: transformed, client: true }
  const problem = storableData(schema, value)
  return problem === undefined ? { ok: true, value } : { ok: false, why: problem }
}

/** storable() for the whole data, for schemas validated whole */
export function storableData (schema: SessionSchema, data: Record<string, unknown>): string | undefined {
  const problem = jsonProblem(data, '(data)')
  if (problem !== undefined) return problem.replace(/^\(data\)\./, '')
  if (mayTransform(schema) && !schema.safeParse(data).success) {
    return "the schema's output does not pass the schema again (a .transform() that changes the type); sessions store the parsed value and parse it again on every load"
  }
  return undefined
}

/** An object schema without object-level refinements: valid data stays valid when one key is replaced by a valid value. */
export function validatesPerKey (schema: SessionSchema): boolean {
  const def = schema._zod?.def
  return def?.type === 'object' && def.shape !== undefined && (def.checks === undefined || def.checks.length === 0)
}

// Which zod schemas only ever output fresh plain JSON: strings, finite numbers, booleans, null, and new
// arrays and plain objects of those. A value such a schema parsed needs no JSON walk, and nobody but the
// session holds a reference into it, so it cannot change before it is saved.

type Def = Record<string, unknown> & { type: string }

const known = new WeakMap<object, boolean>()

const defOf = (schema: unknown): Def | undefined => (schema as SessionSchema | undefined)?._zod?.def as Def | undefined
const isJsonPrimitive = (v: unknown): boolean => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))

function pure (schema: unknown, seen: Set<unknown>): boolean {
  if (schema === null || typeof schema !== 'object') return false
  const cached = known.get(schema)
  if (cached !== undefined) return cached
  if (seen.has(schema)) return false
  seen.add(schema)
  const def = defOf(schema)
  const result = def !== undefined && pureDef(def, seen)
  known.set(schema, result)
  return result
}

function pureDef (def: Def, seen: Set<unknown>): boolean {
  switch (def.type) {
    case 'string': case 'number': case 'boolean': case 'null': case 'template_literal':
      return true
    case 'literal':
      return Array.isArray(def.values) && def.values.every(isJsonPrimitive)
    case 'enum':
      return def.entries !== null && typeof def.entries === 'object' && Object.values(def.entries).every(isJsonPrimitive)
    case 'optional': case 'nullable': case 'default':
      // a default is only used for undefined input, which validateKey walks
      return pure(def.innerType, seen)
    case 'array':
      return pure(def.element, seen)
    case 'tuple':
      return Array.isArray(def.items) && def.items.every(item => pure(item, seen)) && (def.rest === null || def.rest === undefined || pure(def.rest, seen))
    case 'union':
      return Array.isArray(def.options) && def.options.every(option => pure(option, seen))
    case 'record':
      return defOf(def.keyType)?.type === 'string' && pure(def.valueType, seen)
    case 'object': {
      const shape = def.shape as Record<string, unknown> | undefined
      const catchall = defOf(def.catchall)
      return shape !== undefined && (catchall === undefined || catchall.type === 'never') &&
        Object.values(shape).every(field => pure(field, seen))
    }
    default:
      return false
  }
}

/** true when every value `schema` outputs is fresh plain JSON (see above) */
export function outputsFreshJson (schema: SessionSchema): boolean {
  return pure(schema, new Set())
}
