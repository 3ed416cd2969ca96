// The Lua scripts of RedisStore, in one place: the ioredis link defines them as commands, the
// node-redis link runs them by EVALSHA (EVAL when the server has not cached them yet).

// One hash per session: `d:<key>` per top-level data key, `m:<name>` per meta field, `_c` createdAt,
// `_e` expiresAt ('' = never), `_v` version, `_b` the data's size, `_a` the auth as JSON, `_p` the
// prefix of the store that wrote it (scans match it exactly), with PEXPIREAT on the key. Every script touches ONE key (Cluster-safe); the owner index (a set
// per owner) is kept by separate single-key commands. set, create and patch take their arguments as
// they are or packed in one JSON array (ARGV[1]), which a client sends for less CPU.
export const SCRIPTS = {
  // A key of another type where a session should be (corrupt) is replaced by set() and create(), is
  // missing to touch(), and is deleted by destroy(); patch() and rotate() read it as missing (WRONGTYPE).
  fzsSessionSet: `
local A = #ARGV == 1 and cjson.decode(ARGV[1]) or ARGV
local old = false
if redis.call('TYPE', KEYS[1]).ok == 'hash' then old = redis.call('HGET', KEYS[1], 'm:owner') end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(A, 2))
if A[1] ~= '' then redis.call('PEXPIREAT', KEYS[1], A[1]) end
return old`,
  // set() only when the key is absent (Redis removes expired keys by itself): 1 when written, else 0
  fzsSessionCreate: `
local A = #ARGV == 1 and cjson.decode(ARGV[1]) or ARGV
local type = redis.call('TYPE', KEYS[1]).ok
if type == 'hash' then return 0 end
if type ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], unpack(A, 2))
if A[1] ~= '' then redis.call('PEXPIREAT', KEYS[1], A[1]) end
return 1`,
  // ARGV: expiresAt ('' never, '-' unchanged), ifVersion ('' none), maxBytes ('' none), unlessWrittenAfter
  // ('' none: else 0 when m:lastAccessAt is later), n, then n field/value
  // pairs, then fields to delete. `_b` holds the data's size (key + value bytes of every d: field), kept
  // from the lengths of the changed fields only. Answers false when missing (or corrupt: a `_v` or `_b`
  // that is not a count, which get() reads as missing too), else {owner, 1 applied | 0 version conflict |
  // 2 too large, the key's expiry (-1 none)}.
  fzsSessionPatch: `
local A = #ARGV == 1 and cjson.decode(ARGV[1]) or ARGV
local found = redis.call('HMGET', KEYS[1], '_c', 'm:owner', '_v', '_b', 'm:lastAccessAt')
if not found[1] then return false end
-- a version or size that is not a count: a corrupt hash, missing as get() reads it
if not found[3] or not string.match(found[3], '^%d+$') or not string.match(found[4] or '0', '^%d+$') then return false end
local version, bytes = tonumber(found[3]), tonumber(found[4] or '0')
if A[2] ~= '' and found[3] ~= A[2] then return {found[2] or '', 0} end
if A[4] ~= '' and found[5] and (tonumber(found[5]) or 0) > tonumber(A[4]) then return {found[2] or '', 0} end
local n = tonumber(A[5])
local last = 5 + 2 * n
local new, gone, fields = {}, {}, {}
for i = 6, last, 2 do if string.sub(A[i], 1, 2) == 'd:' then new[A[i]] = #A[i + 1]; fields[A[i]] = true end end
for i = last + 1, #A do if string.sub(A[i], 1, 2) == 'd:' then gone[A[i]] = true; fields[A[i]] = true end end
for f in pairs(fields) do
  local old = redis.call('HSTRLEN', KEYS[1], f)
  if old > 0 then bytes = bytes - old - (#f - 2) end
  if new[f] and not gone[f] then bytes = bytes + new[f] + (#f - 2) end
end
if A[3] ~= '' and bytes > tonumber(A[3]) then return {found[2] or '', 2} end
redis.call('HSET', KEYS[1], '_v', version + 1, '_b', bytes, unpack(A, 6, last))
if #A > last then redis.call('HDEL', KEYS[1], unpack(A, last + 1)) end
if A[1] == '' then redis.call('PERSIST', KEYS[1]) elseif A[1] ~= '-' then redis.call('PEXPIREAT', KEYS[1], A[1]) end
return {found[2] or '', 1, redis.call('PEXPIRETIME', KEYS[1])}`,
  // ARGV: the expected newest secret hash, the new auth JSON
  fzsSessionRotate: `
local auth = redis.call('HGET', KEYS[1], '_a')
if not auth or cjson.decode(auth).current[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], '_a', ARGV[2])
return 1`,
  fzsSessionTouch: `
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return false end
redis.call('HSET', KEYS[1], '_e', ARGV[1], '_p', ARGV[2])
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return {redis.call('HGET', KEYS[1], 'm:owner') or ''}`,
  // adds a member (unless ARGV[1] is ''), then makes the set live as long as its longest session; a
  // key of another type there (corrupt) is replaced, answering 2
  fzsOwnerExtend: `
local type = redis.call('TYPE', KEYS[1]).ok
local replaced = type ~= 'none' and type ~= 'set'
if replaced then redis.call('DEL', KEYS[1]) end
local exists = type == 'set'
if ARGV[1] ~= '' then redis.call('SADD', KEYS[1], ARGV[1]) elseif not exists then return replaced and 2 or 0 end
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1])
elseif exists then redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
else redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
if replaced then return 2 end
return 1`,
  // answers {1 when a session was there, its owner}
  fzsSessionDestroy: `
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then redis.call('DEL', KEYS[1]); return {0, ''} end
local found = redis.call('HMGET', KEYS[1], '_c', 'm:owner')
redis.call('DEL', KEYS[1])
return {found[1] and 1 or 0, found[2] or ''}`
} as const

export type ScriptName = keyof typeof SCRIPTS
