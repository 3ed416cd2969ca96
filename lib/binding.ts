import { isIPv4 } from 'node:net'
import type { BindOptions, SessionMeta } from '../types/index.js'

/** The network a client is in: /24 for IPv4, /64 for IPv6. */
function subnet (ip: string): string {
  const v4 = ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip
  if (isIPv4(v4)) return v4.split('.').slice(0, 3).join('.')
  return expandIPv6(ip).slice(0, 4).join(':')
}

function expandIPv6 (ip: string): string[] {
  const [head, tail = ''] = ip.toLowerCase().split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const middle = ip.includes('::') ? Array(8 - left.length - right.length).fill('0') : []
  return [...left, ...middle, ...right].map(part => part.replace(/^0+(?=.)/, ''))
}

/** What differs between the session's recorded client and this request's, or null when they match. */
export function bindingMismatch (bind: Required<BindOptions>, meta: SessionMeta, ip: string, userAgent: string | undefined): 'ip' | 'userAgent' | null {
  if (bind.ip !== undefined && meta.ip !== undefined) {
    const same = bind.ip === 'subnet' ? subnet(meta.ip) === subnet(ip) : meta.ip === ip
    if (!same) return 'ip'
  }
  if (bind.userAgent !== undefined && meta.userAgent !== userAgent) return 'userAgent'
  return null
}
