/** Emits a process warning once per distinct key: a corrupt file is reported, not repeated on every read. */
export function warnOnce (seen: Set<string>, key: string, message: string, code = 'FST_SESSION_CORRUPT_RECORD'): void {
  if (seen.has(key)) return
  if (seen.size > 10_000) seen.clear()
  seen.add(key)
  process.emitWarning(message, { code })
}
