// The Lua scripts of RedisStore, in one place: both links run them by EVALSHA (EVAL when the server
// has not cached them yet).

// One hash per session, in one of two layouts, told apart by the `_r` field. Both have `d:<key>` per
// top-level data key and PEXPIREAT on the key.
// - packed (the default since 0.3): `_h` holds what every write changes as text, "<version> <the
//   data's size> <expiresAt ('' = never)> <meta.lastAccessAt as JSON ('' = none)>", and `_r` the rest
//   as one JSON array of strings [createdAt, the prefix its key is held under (the client's keyPrefix
//   and the store's prefix), the auth as JSON, {meta name: its value as JSON}]. A read gets 4 + 2n
//   reply values instead of 14 + 2n, which both clients pay for per value (a session of two keys:
//   ioredis 26 → 13 µs per HGETALL); a write that changes data and lastAccessAt edits `_h` as text and
//   leaves `_r` alone (decoding it would cost Redis 4 µs).
// - fields (0.2): `_c` createdAt, `_e` expiresAt, `_v` version, `_b` size, `_a` auth, `_p` prefix,
//   `m:<name>` per meta field.
// A script keeps a hash in the layout it has; set() and create() write the one the store is configured
// with. Strings only in `_r`, so that cjson (whose numbers keep 14 digits, and which writes an empty
// array as {}) gives back exactly what it read.
// Every script touches ONE key (Cluster-safe); the owner index (a set per owner) is kept by separate
// single-key commands. set, create and patch take their arguments as they are or packed in two (which
// no script's arguments as they are can be: they are five or more), ARGV = {n, the n arguments each
// followed by a NUL}, which a client sends for less CPU (no escaping, unlike JSON) and struct.unpack
// splits in C (hash.ts's packArgs()).

/**
 * `hot(text)`: a packed hash's `_h` as version, size, expiresAt, lastAccessAt (nil when it is not
 * that: corrupt); `cold(raw)`: its `_r` decoded, false when corrupt (missing to every script, as to
 * get(), whose checks these are: counts of at most 15 digits, exactly four strings-only parts, so that
 * cjson can write back whatever it read)
 */
const PACKED = `
local function hot (text)
  if not text then return nil end
  local version, bytes, expires, written = string.match(text, '^(%d+) (%d+) (%d*) (.*)$')
  if not version or #version > 15 or #bytes > 15 or #expires > 15 then return nil end
  return version, bytes, expires, written
end
local function cold (raw)
  if not raw then return false end
  local ok, r = pcall(cjson.decode, raw)
  if not ok or type(r) ~= 'table' or r[5] ~= nil or type(r[1]) ~= 'string' or type(r[2]) ~= 'string' or type(r[3]) ~= 'string' or type(r[4]) ~= 'table' then return false end
  for _, v in pairs(r[4]) do if type(v) ~= 'string' then return false end end
  return r
end
local function packedOwner (raw)
  local r = cold(raw)
  return r and r[4].owner or false
end`

/**
 * `args()`: ARGV, or the arguments packed in two (see above); `inParts(command, list, from, to)`: the
 * command on KEYS[1] with list[from..to], 4,000 values at a time (an even count: field/value pairs stay
 * whole). Lua's stack holds about 8,000 values, so neither unpacks more at once: a session of 10,000
 * keys is written like one of two. Redis has had `struct` since 2.6; more than 4,000 arguments, or a
 * server without it (a Redis-compatible one), get split in Lua.
 */
const ARGS = `
local function args ()
  if #ARGV ~= 2 then return ARGV end
  local n, all, struct = tonumber(ARGV[1]), ARGV[2], rawget(_G, 'struct')
  if n <= 4000 and struct then
    local A = {struct.unpack(string.rep('s', n), all)}
    A[#A] = nil -- struct.unpack's last answer is where it stopped
    return A
  end
  -- more values than struct.unpack should put on Lua's stack at once, or a Redis-compatible server
  -- without Lua's struct library: split in Lua (~4 µs more per call)
  local A = {}
  for s in string.gmatch(all, '([^%z]*)%z') do A[#A + 1] = s end
  return A
end
local function inParts (command, list, from, to)
  for at = from, to, 4000 do redis.call(command, KEYS[1], unpack(list, at, math.min(at + 3999, to))) end
end`

export type ScriptName = 'fzsSessionSet' | 'fzsSessionCreate' | 'fzsSessionPatch' | 'fzsSessionRotate' | 'fzsSessionTouch' | 'fzsOwnerExtend' | 'fzsSessionDestroy'

// typed by name only: the declarations need not carry the scripts' text
export const SCRIPTS: Readonly<Record<ScriptName, string>> = {
  // A key of another type where a session should be (corrupt) is replaced by set() and create(), is
  // missing to touch(), and is deleted by destroy(); patch() and rotate() read it as missing (WRONGTYPE).
  // Answers the owner (as JSON) the replaced hash had, or false.
  fzsSessionSet: `${PACKED}${ARGS}
local A = args()
local old = false
-- kind, not type: a local named type would hide Lua's type() from the rest of the script
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'hash' then
  local found = redis.call('HMGET', KEYS[1], '_r', 'm:owner', '_h')
  if found[1] or found[3] then old = packedOwner(found[1]) else old = found[2] end
end
-- a new session's key (the common case) has nothing to delete
if kind ~= 'none' then redis.call('DEL', KEYS[1]) end
inParts('HSET', A, 2, #A)
if A[1] ~= '' then redis.call('PEXPIREAT', KEYS[1], A[1]) end
return old`,
  // set() only when the key is absent (Redis removes expired keys by itself): 1 when written, else 0
  fzsSessionCreate: `${ARGS}
local A = args()
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'hash' then return 0 end
if kind ~= 'none' then redis.call('DEL', KEYS[1]) end
inParts('HSET', A, 2, #A)
if A[1] ~= '' then redis.call('PEXPIREAT', KEYS[1], A[1]) end
return 1`,
  // ARGV: expiresAt ('' never, '-' unchanged), ifVersion ('' none), maxBytes ('' none), unlessWrittenAfter
  // ('' none: else 0 when meta lastAccessAt is later), '1' when the answer must name the owner (else a
  // packed hash answers ''), n, then n field/value pairs (`d:` data, `m:` meta, `_e`, `_p`), then fields
  // to delete. The data's size (key + value bytes of every d: field) is kept from the lengths of the
  // changed fields only. Answers false when missing (or corrupt: a version or size that is not a
  // count, an `_h` that is not one or a missing `_r`, which get() reads as missing too; a patch that
  // does not decode `_r` does not check it further, and writes to a hash no read takes), else {owner,
  // 1 applied | 0 version conflict | 2 too large, the key's expiry (-1 none)}.
  fzsSessionPatch: `${PACKED}${ARGS}
local A = args()
local found = redis.call('HMGET', KEYS[1], '_h', '_r', '_c', 'm:owner', '_v', '_b', 'm:lastAccessAt')
local n = tonumber(A[6])
local last = 6 + 2 * n
local packed = found[1] or found[2]
local owner, version, bytes, written, expires, r
if packed then
  version, bytes, expires, written = hot(found[1])
  if not version or not found[2] then return false end
  -- _r is decoded only when the owner is asked for or meta other than lastAccessAt changes
  local decode = A[5] == '1'
  for i = 7, last, 2 do if string.sub(A[i], 1, 2) == 'm:' and A[i] ~= 'm:lastAccessAt' then decode = true end end
  for i = last + 1, #A do if string.sub(A[i], 1, 2) == 'm:' and A[i] ~= 'm:lastAccessAt' then decode = true end end
  if decode then
    r = cold(found[2])
    if not r then return false end
    owner = r[4].owner
  end
  if written == '' then written = nil end
else
  if not found[3] then return false end
  owner, version, bytes, written = found[4], found[5], found[6] or '0', found[7]
  -- a version or size that is not a count: a corrupt hash, missing as get() reads it
  if not version or not string.match(version, '^%d+$') or not string.match(bytes, '^%d+$') then return false end
end
if A[2] ~= '' and version ~= A[2] then return {owner or '', 0} end
if A[4] ~= '' and written and (tonumber(written) or 0) > tonumber(A[4]) then return {owner or '', 0} end
version, bytes = tonumber(version), tonumber(bytes)
local new, gone, fields = {}, {}, {}
for i = 7, last, 2 do if string.sub(A[i], 1, 2) == 'd:' then new[A[i]] = #A[i + 1]; fields[A[i]] = true end end
for i = last + 1, #A do if string.sub(A[i], 1, 2) == 'd:' then gone[A[i]] = true; fields[A[i]] = true end end
for f in pairs(fields) do
  local old = redis.call('HSTRLEN', KEYS[1], f)
  if old > 0 then bytes = bytes - old - (#f - 2) end
  if new[f] and not gone[f] then bytes = bytes + new[f] + (#f - 2) end
end
if A[3] ~= '' and bytes > tonumber(A[3]) then return {owner or '', 2} end
if packed then
  local set, del, metaChanged = {}, {}, false
  written = written or ''
  for i = 7, last, 2 do
    local f = A[i]
    if f == 'm:lastAccessAt' then written = A[i + 1]
    elseif string.sub(f, 1, 2) == 'm:' then r[4][string.sub(f, 3)] = A[i + 1]; metaChanged = true
    elseif f == '_e' then expires = A[i + 1]
    elseif f ~= '_p' then set[#set + 1] = f; set[#set + 1] = A[i + 1] end
  end
  for i = last + 1, #A do
    local f = A[i]
    if f == 'm:lastAccessAt' then written = ''
    elseif string.sub(f, 1, 2) == 'm:' then r[4][string.sub(f, 3)] = nil; metaChanged = true
    else del[#del + 1] = f end
  end
  set[#set + 1] = '_h'
  set[#set + 1] = string.format('%d %d %s %s', version + 1, bytes, expires, written)
  if metaChanged then set[#set + 1] = '_r'; set[#set + 1] = cjson.encode(r) end
  inParts('HSET', set, 1, #set)
  inParts('HDEL', del, 1, #del)
else
  -- A[3] to A[6] are read: the new version and size go in their place, written with the fields
  A[3], A[4], A[5], A[6] = '_v', version + 1, '_b', bytes
  inParts('HSET', A, 3, last)
  inParts('HDEL', A, last + 1, #A)
end
if A[1] == '' then redis.call('PERSIST', KEYS[1]) elseif A[1] ~= '-' then redis.call('PEXPIREAT', KEYS[1], A[1]) end
return {owner or '', 1, redis.call('PEXPIRETIME', KEYS[1])}`,
  // ARGV: the expected newest secret hash, the new auth JSON
  fzsSessionRotate: `${PACKED}
local found = redis.call('HMGET', KEYS[1], '_r', '_a', '_h')
if found[1] or found[3] then
  local r = cold(found[1])
  if not r or not hot(found[3]) then return 0 end
  local ok, auth = pcall(cjson.decode, r[3])
  if not ok or type(auth) ~= 'table' or type(auth.current) ~= 'table' or auth.current[1] ~= ARGV[1] then return 0 end
  r[3] = ARGV[2]
  redis.call('HSET', KEYS[1], '_r', cjson.encode(r))
  return 1
end
if not found[2] then return 0 end
local ok, auth = pcall(cjson.decode, found[2])
if not ok or type(auth) ~= 'table' or type(auth.current) ~= 'table' or auth.current[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], '_a', ARGV[2])
return 1`,
  // ARGV: expiresAt ('' never), the prefix the key is held under; answers {owner}, false when missing (or corrupt)
  fzsSessionTouch: `${PACKED}
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return false end
local found = redis.call('HMGET', KEYS[1], '_h', '_r')
local owner
if found[1] or found[2] then
  local version, bytes, _, written = hot(found[1])
  local r = cold(found[2])
  if not version or not r then return false end
  redis.call('HSET', KEYS[1], '_h', string.format('%s %s %s %s', version, bytes, ARGV[1], written))
  owner = r[4].owner
else
  redis.call('HSET', KEYS[1], '_e', ARGV[1], '_p', ARGV[2])
  owner = redis.call('HGET', KEYS[1], 'm:owner')
end
if ARGV[1] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIREAT', KEYS[1], ARGV[1]) end
return {owner or ''}`,
  // adds a member (unless ARGV[1] is ''), then makes the set live as long as its longest session; a
  // key of another type there (corrupt) is replaced, answering 2
  fzsOwnerExtend: `
local kind = redis.call('TYPE', KEYS[1]).ok
local replaced = kind ~= 'none' and kind ~= 'set'
if replaced then redis.call('DEL', KEYS[1]) end
local exists = kind == 'set'
if ARGV[1] ~= '' then redis.call('SADD', KEYS[1], ARGV[1]) elseif not exists then return replaced and 2 or 0 end
if ARGV[2] == '' then redis.call('PERSIST', KEYS[1])
elseif exists then redis.call('PEXPIREAT', KEYS[1], ARGV[2], 'GT')
else redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
if replaced then return 2 end
return 1`,
  // answers {1 when a session was there, its owner}
  fzsSessionDestroy: `${PACKED}
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then redis.call('DEL', KEYS[1]); return {0, ''} end
local found = redis.call('HMGET', KEYS[1], '_r', '_c', 'm:owner', '_h')
redis.call('DEL', KEYS[1])
if found[1] or found[4] then return {1, packedOwner(found[1]) or ''} end
return {found[2] and 1 or 0, found[3] or ''}`
}
