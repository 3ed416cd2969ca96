import { spawn } from 'node:child_process'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { SessionStore } from '../../types/index.js'

const WRITER = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'fixtures', 'file-writer.ts')

export function startWriter (path: string, mode: 'write' | 'hold', kind: 'file' | 'directory' = 'file'): ReturnType<typeof spawn> {
  return spawn(process.execPath, [...process.execArgv, WRITER, path, mode, kind], { stdio: ['ignore', 'pipe', 'inherit'] })
}

/**
 * Kills a writing child with SIGKILL at a random moment, `rounds` times; after each kill the store
 * must open, and every acknowledged write must be there (at its value or a later one).
 */
export async function crashLoop (t: Test, path: string, kind: 'file' | 'directory', open: () => SessionStore, rounds: number): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    const acked = new Map<string, number>()
    const child = startWriter(path, 'write', kind)
    let buffer = ''
    let started: () => void = () => {}
    const firstAck = new Promise<void>(resolve => { started = resolve })
    child.stdout!.on('data', (d: Buffer) => {
      started()
      buffer += d.toString()
      const lines = buffer.split('\n')
      buffer = lines.pop()!
      for (const line of lines) {
        const [, key, n] = line.split(' ')
        acked.set(key, Number(n))
      }
    })
    await firstAck
    // round 0 also kills right after the first writes, before every key exists
    await new Promise(resolve => setTimeout(resolve, round === 0 ? 0 : Math.random() * 150))
    child.kill('SIGKILL')
    await new Promise(resolve => child.once('exit', resolve))
    const store = open()
    await store.ready?.()
    let intact = 0
    for (const [key, n] of acked) {
      const got = (await store.get(key))?.data.n as number | undefined
      if (got === undefined || got < n || got % 20 !== Number(key.slice(1))) t.fail(`round ${round}: ${key} holds ${got}, acknowledged ${n}`)
      else intact++
    }
    t.ok(acked.size > 0 && intact === acked.size, `round ${round}: ${intact} acknowledged sessions intact`)
    await store.close?.()
  }
}
