// The few things the plugin needs from a zod schema, without importing zod at run time.

interface Issue { path: PropertyKey[], message: string }
export interface SchemaError { issues: Issue[] }
type SafeParse = { success: true, data: any } | { success: false, error: SchemaError }

export interface SessionSchema {
  safeParse (value: unknown): SafeParse
  _zod?: { def: { type: string, shape?: Record<string, SessionSchema>, catchall?: SessionSchema, checks?: unknown[] } }
}

export function describeIssues (error: SchemaError): string {
  return error.issues.slice(0, 5)
    .map(i => `${i.path.length > 0 ? i.path.map(String).join('.') : '(root)'}: ${i.message}`)
    .join('; ')
}

/**
 * Validates one top-level key's new value. For an object schema only that key's schema runs;
 * for any other schema (unions, pipes) the whole data with the new value is validated.
 * Returns the parsed value, or a description of what is wrong.
 */
export function validateKey (schema: SessionSchema, data: Record<string, unknown>, key: string, value: unknown):
{ ok: true, value: unknown } | { ok: false, why: string } {
  const def = schema._zod?.def
  if (def?.type === 'object' && def.shape !== undefined) {
    const keySchema = Object.hasOwn(def.shape, key) ? def.shape[key] : def.catchall
    if (keySchema === undefined || keySchema._zod?.def.type === 'never') return { ok: false, why: `"${key}" is not a key of the session schema` }
    const result = keySchema.safeParse(value)
    return result.success
      ? { ok: true, value: result.data }
      : { ok: false, why: describeIssues({ issues: result.error.issues.map(i => ({ ...i, path: [key, ...i.path] })) }) }
  }
  const result = schema.safeParse({ ...data, [key]: value })
  if (!result.success) return { ok: false, why: describeIssues(result.error) }
  return { ok: true, value: (result.data as Record<string, unknown>)[key] }
}

/** An object schema without object-level refinements: valid data stays valid when one key is replaced by a valid value. */
export function validatesPerKey (schema: SessionSchema): boolean {
  const def = schema._zod?.def
  return def?.type === 'object' && def.shape !== undefined && (def.checks === undefined || def.checks.length === 0)
}
