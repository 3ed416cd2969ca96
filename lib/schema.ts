// The few things the plugin needs from a zod schema, without importing zod at run time.

import { jsonProblem } from './json-value.js'
import { outputsFreshJson } from './json-schema-kind.js'

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
 * Validates one top-level key's new value. For an object schema only that key's schema runs;
 * for any other schema (unions, pipes) the whole data with the new value is validated.
 * Returns the parsed value, or a description of what is wrong. `fresh`: the value is plain JSON that
 * only the session references (see json-schema-kind), so it needs no validating again before it is saved.
 */
export function validateKey (schema: SessionSchema, data: Record<string, unknown>, key: string, value: unknown):
{ ok: true, value: unknown, fresh: boolean } | { ok: false, why: string } {
  const def = schema._zod?.def
  if (def?.type === 'object' && def.shape !== undefined) {
    const keySchema = Object.hasOwn(def.shape, key) ? def.shape[key] : def.catchall
    if (keySchema === undefined || keySchema._zod?.def.type === 'never') return { ok: false, why: `"${key}" is not a key of the session schema` }
    const result = keySchema.safeParse(value)
    if (!result.success) return { ok: false, why: describeIssues({ issues: result.error.issues.map(i => ({ ...i, path: [key, ...i.path] })) }) }
    // a default stands in for undefined input: it is not a parsed copy, so it is walked
    const fresh = value !== undefined && outputsFreshJson(keySchema)
    const problem = storable(keySchema, key, result.data, fresh)
    return problem === undefined ? { ok: true, value: result.data, fresh } : { ok: false, why: problem }
  }
  const result = schema.safeParse({ ...data, [key]: value })
  if (!result.success) return { ok: false, why: describeIssues(result.error) }
  const whole = result.data as Record<string, unknown>
  const problem = storableData(schema, whole)
  return problem === undefined ? { ok: true, value: whole[key], fresh: false } : { ok: false, why: problem }
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
