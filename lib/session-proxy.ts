import { kState, reservedKey, type Session } from './session.js'
import { isReservedKey } from './json-value.js'

/**
 * request.session as @fastify/session users and plugins meet it: any data key is a property
 * (`session.user = x` is `session.set('user', x)`, validated, so a key a strict schema does not know
 * throws FST_SESSION_INVALID_DATA; `= undefined` or `delete` unsets), and `Object.keys(session)` lists
 * the data keys (@fastify/passport's keepSessionInfo keeps what it finds there). Session members
 * (methods, `id`, `cookie`, …) win over data keys of the same name. `__proto__`, `constructor` and
 * `prototype` are neither: writing them (`Object.assign(request.session, body)` with a JSON body holding
 * `"__proto__"`) throws FST_SESSION_INVALID_DATA (400), and the session's prototype cannot be replaced.
 */
const handler: ProxyHandler<Session> = {
  get (target, key) {
    if (typeof key === 'symbol' || key in target) return Reflect.get(target, key, target)
    return target.get(key)
  },
  set (target, key, value) {
    if (typeof key === 'string' && isReservedKey(key)) throw reservedKey(key)
    if (typeof key === 'symbol' || key in target) return Reflect.set(target, key, value, target)
    if (value === undefined) target.unset(key)
    else target.set(key, value)
    return true
  },
  defineProperty (target, key, descriptor) {
    if (typeof key === 'string' && isReservedKey(key)) throw reservedKey(key)
    return Reflect.defineProperty(target, key, descriptor)
  },
  setPrototypeOf () {
    throw reservedKey('__proto__')
  },
  deleteProperty (target, key) {
    if (typeof key === 'symbol' || key in target) return Reflect.deleteProperty(target, key)
    target.unset(key)
    return true
  },
  has (target, key) {
    return key in target || (typeof key === 'string' && target.has(key))
  },
  ownKeys (target) {
    // the state's data itself: the live `data` view would be built just to be listed
    return Object.keys(target[kState].data).filter(key => !(key in target) && target.has(key))
  },
  getOwnPropertyDescriptor (target, key) {
    if (typeof key === 'symbol' || key in target || !target.has(key)) return Reflect.getOwnPropertyDescriptor(target, key)
    return { value: target.get(key), writable: true, enumerable: true, configurable: true }
  }
}

export function sessionProxy<S extends Session> (session: S): S {
  return new Proxy(session, handler) as S
}
