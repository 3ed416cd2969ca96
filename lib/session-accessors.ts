import { Session } from './session.js'
import type { SessionSchema } from './schema.js'

/**
 * A Session class with a property per top-level key of an object schema (`session.cart = x` is
 * `session.set('cart', x)`, `= undefined` unsets), the way @fastify/session exposes data, so plugins
 * written for it (@fastify/csrf-protection in its '@fastify/session' mode) work unchanged. Keys that
 * clash with Session members keep the member. Defined once per plugin, so a request pays nothing.
 */
export function sessionClassFor (schema: SessionSchema): typeof Session {
  const shape = schema._zod?.def.type === 'object' ? schema._zod.def.shape : undefined
  if (shape === undefined) return Session
  const WithProperties = class extends Session {}
  for (const key of Object.keys(shape)) {
    if (key in Session.prototype) continue
    Object.defineProperty(WithProperties.prototype, key, {
      get (this: Session) { return this.get(key) },
      set (this: Session, value: unknown) {
        if (value === undefined) this.unset(key)
        else this.set(key, value)
      },
      enumerable: true,
      configurable: true
    })
  }
  return WithProperties as typeof Session
}
