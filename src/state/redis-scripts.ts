/**
 * The Lua scripts that make the shared caps atomic. A cap is a sorted set of holders scored by
 * the moment their lease runs out; expired holders are dropped before every count, so the
 * slots of an instance that died without releasing them free themselves. Time is Redis's own
 * (TIME), so the instances' clocks never need to agree.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * KEYS: the caps' sorted sets. ARGV: holder, lease ms, then one limit per key.
 * Returns 0 when a slot was taken under every cap, or the 1-based index of the full cap.
 */
export const ACQUIRE = `${NOW}
local holder = ARGV[1]
local lease = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  if not redis.call('ZSCORE', key, holder) and redis.call('ZCARD', key) >= tonumber(ARGV[i + 2]) then
    return i
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, holder)
  redis.call('PEXPIRE', key, lease * 2)
end
return 0
`;

/**
 * The heartbeat. KEYS: cap sets; ARGV: lease ms, then one holder per key. Sets each holder's
 * lease again, adding it back where Redis lost it (a restart without persistence).
 */
export const RENEW = `${NOW}
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease * 2)
end
return #KEYS
`;

/**
 * A live call's registry entry. KEYS: the call's hash, the index set. ARGV: call id, lease ms,
 * then field/value pairs.
 */
export const PUT_CALL = `${NOW}
local lease = tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], lease)
redis.call('ZADD', KEYS[2], now + lease, ARGV[1])
return 1
`;

/** KEYS: a sorted set of leases. Drops the expired ones; returns the live members. */
export const LIVE_MEMBERS = `${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;
