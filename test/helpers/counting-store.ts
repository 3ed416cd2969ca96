import type { PatchResult, SessionAuth, SessionPatch, SessionRecord, SessionStore } from '../../types/index.js'
import { MemoryStore } from '../../stores/memory.js'

type Op = 'get' | 'set' | 'patch' | 'rotate' | 'touch' | 'destroy'

/** Wraps a real store and records every call, to prove how much work a request caused. */
export class CountingStore implements SessionStore {
  readonly calls: Array<{ op: Op, id: string, arg?: unknown }> = []
  failing: Set<Op> = new Set()

  constructor (readonly inner: SessionStore = new MemoryStore()) {}

  count (op?: Op): number {
    return op === undefined ? this.calls.length : this.calls.filter(c => c.op === op).length
  }

  writes (): number {
    return this.calls.filter(c => c.op !== 'get').length
  }

  reset (): void {
    this.calls.length = 0
  }

  #record (op: Op, id: string, arg?: unknown): void {
    this.calls.push({ op, id, arg })
    if (this.failing.has(op)) throw new Error(`store ${op} failed (test)`)
  }

  async get (id: string): Promise<SessionRecord | undefined> { this.#record('get', id); return this.inner.get(id) }
  async set (id: string, record: SessionRecord): Promise<void> { this.#record('set', id, record); return this.inner.set(id, record) }
  async patch (id: string, change: SessionPatch): Promise<PatchResult> { this.#record('patch', id, change); return this.inner.patch(id, change) }
  async rotate (id: string, from: string, auth: SessionAuth): Promise<boolean> { this.#record('rotate', id, auth); return this.inner.rotate(id, from, auth) }
  async touch (id: string, expiresAt: number | null): Promise<boolean> { this.#record('touch', id, expiresAt); return this.inner.touch(id, expiresAt) }
  async destroy (id: string): Promise<boolean> { this.#record('destroy', id); return this.inner.destroy(id) }
  async prune (): Promise<number> { return this.inner.prune!() }
  async listByOwner (owner: string): Promise<string[]> { return this.inner.listByOwner!(owner) }
  async destroyByOwner (owner: string, except?: string): Promise<number> { return this.inner.destroyByOwner!(owner, except) }
}
