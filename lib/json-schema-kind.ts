// Which zod schemas only ever output fresh plain JSON: strings, finite numbers, booleans, null, and new
// arrays and plain objects of those. A value such a schema parsed needs no JSON walk, and nobody but the
// session holds a reference into it, so it cannot change before it is saved.
import type { SessionSchema } from './schema.js'

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
