#!/usr/bin/env node
// The operator CLI: `npx fastify-zod-session <command> --store <url>`.
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { openStoreUrl } from '../stores/url/open.js'
import { redactUrl } from '../stores/url/parse.js'
import type { SessionRecord, SessionStore } from '../types/index.js'
import { progressBar } from './progress.js'
import { resolveEncryption, SealError, type KeyRing } from '../lib/key-ring.js'
import { openRecord } from '../lib/sealed-store.js'

const USAGE = `Usage: fastify-zod-session <command> [options]

Commands:
  prune              remove expired sessions now (a progress bar on a terminal)
  stats              count live sessions, and per owner where the store can
  revoke <owner>     destroy every session of an owner (e.g. a user id)
  inspect <id>       show one session by its id, as fastify.sessions.list() and
                     request.session.id give it

Options:
  --store <url>      storage URL (default: $SESSION_STORE_URL), e.g. redis://localhost:6379,
                     dir:///var/lib/app/sessions, mysql://user:pass@db/app
  --keys <file>      the encryption keys (a JSON file: the plugin's \`encryption\` option, or
                     its keys array; default: $SESSION_ENCRYPTION_KEYS, the same JSON): inspect
                     shows the data decrypted; without them, encrypted values as stored
  --top <n>          owners listed by stats (default 20)
  --json             machine-readable output
  --progress         draw the progress bar even when stderr is not a terminal
  -h, --help         this help

Exit status: 0 done, 1 failed, 2 bad usage or not supported by the store.`

class UsageError extends Error {}

interface Output { json: boolean, out: (text: string) => void }

function unsupported (what: string): never {
  throw new UsageError(`this store cannot ${what}`)
}

const iso = (ms: number | null | undefined): string | null => ms === null || ms === undefined ? null : new Date(ms).toISOString()

async function prune (store: SessionStore, io: Output, showProgress: boolean): Promise<void> {
  if (typeof store.prune !== 'function') unsupported('prune: its server expires sessions by itself')
  const bar = showProgress ? progressBar(process.stderr, 'pruning') : null
  const started = Date.now()
  const removed = await store.prune({ onProgress: bar === null ? undefined : (done, total) => bar.update(done, total) })
  bar?.finish()
  const ms = Date.now() - started
  io.out(io.json ? JSON.stringify({ removed, ms }) : `removed ${removed} expired session${removed === 1 ? '' : 's'} in ${ms} ms`)
}

async function stats (store: SessionStore, io: Output, top: number): Promise<void> {
  if (typeof store.stats !== 'function') unsupported('count sessions (memcached cannot list its keys)')
  const { sessions, owners } = await store.stats()
  if (io.json) {
    io.out(JSON.stringify({ sessions, owners: owners ?? null }))
    return
  }
  const lines = [`sessions: ${sessions}`]
  if (owners !== undefined) {
    const sorted = Object.entries(owners).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    const owned = sorted.reduce((sum, [, n]) => sum + n, 0)
    lines.push(`owners: ${sorted.length} (${owned} sessions with an owner, ${sessions - owned} without)`)
    for (const [owner, n] of sorted.slice(0, top)) lines.push(`  ${String(n).padStart(6)}  ${owner}`)
    if (sorted.length > top) lines.push(`  … ${sorted.length - top} more (--top ${sorted.length} or --json for all)`)
  }
  io.out(lines.join('\n'))
}

async function revoke (store: SessionStore, io: Output, owner: string | undefined): Promise<void> {
  if (owner === undefined || owner === '') throw new UsageError('revoke needs an owner: fastify-zod-session revoke <owner>')
  if (typeof store.destroyByOwner !== 'function') unsupported('find sessions by owner')
  const removed = await store.destroyByOwner(owner)
  io.out(io.json ? JSON.stringify({ owner, removed }) : `revoked ${removed} session${removed === 1 ? '' : 's'} of ${JSON.stringify(owner)}`)
}

async function inspect (store: SessionStore, io: Output, key: string | undefined, ring: KeyRing | null): Promise<boolean> {
  if (key === undefined || !/^[A-Za-z0-9_-]{16,128}$/.test(key)) {
    throw new UsageError('inspect needs a session id (22 characters of base64url, as fastify.sessions.list() shows)')
  }
  const record: SessionRecord | undefined = await store.get(key)
  if (record === undefined) {
    io.out(io.json ? JSON.stringify({ key, found: false }) : `no live session with key ${key}`)
    return false
  }
  let shown = record
  if (ring !== null) {
    try {
      shown = openRecord(ring, key, record).opened
    } catch (err) {
      if (!(err instanceof SealError)) throw err
      throw new Error(`session ${key} does not decrypt with the given keys: ${err.message}`)
    }
  }
  const view = { key, createdAt: iso(shown.createdAt), expiresAt: iso(shown.expiresAt), meta: shown.meta, data: shown.data }
  io.out(JSON.stringify(view, null, io.json ? undefined : 2))
  return true
}

/** the key ring from --keys (a file) or $SESSION_ENCRYPTION_KEYS: the encryption option's JSON, or its keys array */
async function keyRing (file: string | undefined): Promise<KeyRing | null> {
  const text = file === undefined ? process.env.SESSION_ENCRYPTION_KEYS : await readFile(file, 'utf8')
  if (text === undefined || text === '') return null
  const value: unknown = JSON.parse(text)
  return resolveEncryption(Array.isArray(value) ? { keys: value } : value)
}

export async function main (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { store: { type: 'string' }, json: { type: 'boolean' }, progress: { type: 'boolean' }, top: { type: 'string' }, keys: { type: 'string' }, help: { type: 'boolean', short: 'h' } }
    })
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals: [command, arg] } = parsed
  if (values.help === true || command === undefined) {
    console.log(USAGE)
    return command === undefined && values.help !== true ? 2 : 0
  }
  if (!['prune', 'stats', 'revoke', 'inspect'].includes(command)) {
    console.error(`unknown command ${JSON.stringify(command)}\n\n${USAGE}`)
    return 2
  }
  const url = values.store ?? process.env.SESSION_STORE_URL
  if (url === undefined || url === '') {
    console.error('no store: pass --store <url> or set SESSION_STORE_URL')
    return 2
  }
  const top = values.top === undefined ? 20 : Number(values.top)
  if (!Number.isInteger(top) || top < 0) {
    console.error('--top must be a whole number')
    return 2
  }
  let ring: KeyRing | null
  try {
    ring = await keyRing(values.keys)
  } catch (err) {
    console.error(`--keys: ${(err as Error).message}`)
    return 2
  }
  const io: Output = { json: values.json === true, out: text => console.log(text) }
  let opened
  try {
    opened = await openStoreUrl(url)
  } catch (err) {
    console.error(`cannot open ${redactUrl(url)}: ${(err as Error).message}`)
    return 1
  }
  try {
    if (command === 'prune') await prune(opened.store, io, values.progress === true || process.stderr.isTTY === true)
    else if (command === 'stats') await stats(opened.store, io, top)
    else if (command === 'revoke') await revoke(opened.store, io, arg)
    else if (!await inspect(opened.store, io, arg, ring)) return 1
    return 0
  } catch (err) {
    console.error(err instanceof UsageError ? err.message : `${command} failed: ${(err as Error).message}`)
    return err instanceof UsageError ? 2 : 1
  } finally {
    await opened.close().catch(() => {})
  }
}

process.exitCode = await main(process.argv.slice(2))
