import { open, rename, unlink } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { dirname, join, basename } from 'node:path'

/**
 * Writes a file atomically: a temp file in the same directory, optionally fsynced, with its
 * mtime set, then renamed over the target. Readers see the old content or the new, never a torn one.
 * (write-file-atomic cannot set the mtime before the rename, and DirectoryStore prunes by mtime.)
 */
export async function writeFileAtomic (file: string, content: string, options: { mtime?: number, fsync?: boolean } = {}): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`)
  const handle = await open(temp, 'w', 0o600)
  try {
    try {
      await handle.writeFile(content)
      if (options.mtime !== undefined) {
        const seconds = options.mtime / 1000
        await handle.utimes(seconds, seconds)
      }
      if (options.fsync === true) await handle.datasync()
    } finally {
      await handle.close()
    }
    await rename(temp, file)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
}

/** Runs async work one at a time per key, in order; different keys run in parallel. */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>()

  run<T> (key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const result = previous.then(work, work)
    const tail = result.catch(() => {})
    this.#tails.set(key, tail)
    tail.then(() => { if (this.#tails.get(key) === tail) this.#tails.delete(key) })
    return result
  }
}
