import type { SessionCookieOptions } from '../types/index.js'
import type { RefreshOptions, ResolvedOptions } from './options.js'
import type { CookieOverrides } from './cookie.js'
import { overrideCookie, type SessionState } from './state.js'
import { errorCodes } from './errors.js'

/** what the cookie view needs of the plugin (lib/manager.ts implements it) */
export interface CookieHost {
  readonly options: ResolvedOptions
  /** session.refresh(): this session's own lifetimes */
  refresh: (state: SessionState, change: RefreshOptions, regenerate: boolean) => void
}

const ATTRIBUTES = new Set(['path', 'domain', 'secure', 'httpOnly', 'sameSite', 'partitioned'])

/**
 * `request.session.cookie` as @fastify/session has it. Reading gives this session's cookie; writing
 * changes it: `maxAge` / `expires` give the session its own (sliding) lifetime, as `refresh({ idleTimeout })`
 * does, and the attributes apply to this response's Set-Cookie.
 */
export class SessionCookieView {
  readonly #manager: CookieHost
  readonly #state: SessionState

  constructor (manager: CookieHost, state: SessionState) {
    this.#manager = manager
    this.#state = state
  }

  #attribute<K extends keyof CookieOverrides> (key: K): CookieOverrides[K] {
    const own = this.#state.cookieOverrides?.[key]
    return own === undefined ? this.#manager.options.cookie[key] as CookieOverrides[K] : own
  }

  #override (key: keyof CookieOverrides, value: unknown): void {
    if (this.#attribute(key) === value) return // unchanged: no cookie owed
    overrideCookie(this.#state, key, value)
  }

  /** ms until the session expires; null for a browser-session cookie */
  get maxAge (): number | null {
    const expires = this.expires
    return expires === null ? null : Math.max(0, expires.getTime() - Date.now())
  }

  set maxAge (ms: number | null) {
    if (ms !== null && (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)) {
      throw new errorCodes.FST_SESSION_INVALID_OPTIONS('cookie.maxAge', `${String(ms)} is not a positive number of milliseconds`)
    }
    this.#manager.refresh(this.#state, { idleTimeout: ms === null ? null : ms / 1000 }, false)
  }

  /** this session's idle timeout in ms (what each request extends it by) */
  get originalMaxAge (): number | null {
    const own = this.#state.meta.idleTimeout
    return own === undefined ? this.#manager.options.idleTimeout : own
  }

  set originalMaxAge (ms: number | null) {
    this.maxAge = ms
  }

  get expires (): Date | null {
    const at = this.#state.expiresAt
    if (at !== null && this.#state.stored && !this.#state.metaChanged) return new Date(at)
    const idle = this.originalMaxAge
    return idle === null ? null : new Date(Date.now() + idle)
  }

  set expires (date: Date | null) {
    this.maxAge = date === null ? null : new Date(date).getTime() - Date.now()
  }

  get path (): string | undefined { return this.#attribute('path') }
  set path (value: string | undefined) { this.#override('path', value) }
  get domain (): string | undefined { return this.#attribute('domain') }
  set domain (value: string | undefined) { this.#override('domain', value) }
  get secure (): boolean | 'auto' | undefined { return this.#attribute('secure') }
  set secure (value: boolean | 'auto' | undefined) { this.#override('secure', value) }
  get httpOnly (): boolean | undefined { return this.#attribute('httpOnly') }
  set httpOnly (value: boolean | undefined) { this.#override('httpOnly', value) }
  get sameSite (): SessionCookieOptions['sameSite'] { return this.#attribute('sameSite') }
  set sameSite (value: SessionCookieOptions['sameSite']) { this.#override('sameSite', value) }
  get partitioned (): boolean | undefined { return this.#attribute('partitioned') }
  set partitioned (value: boolean | undefined) { this.#override('partitioned', value) }

  /**
   * @fastify/secure-session's session.options(): attributes and maxAge/expires for this session's
   * cookie. Other keys are ignored, as there (@fastify/csrf-protection passes its own `userInfo` along).
   */
  apply (options: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(options ?? {})) {
      if (key === 'maxAge') this.maxAge = value as number
      else if (key === 'expires') this.expires = value as Date
      else if (ATTRIBUTES.has(key)) this.#override(key as keyof CookieOverrides, value)
    }
  }

  toJSON (): Record<string, unknown> {
    return { maxAge: this.maxAge, originalMaxAge: this.originalMaxAge, expires: this.expires, path: this.path, domain: this.domain, secure: this.secure, httpOnly: this.httpOnly, sameSite: this.sameSite }
  }
}
