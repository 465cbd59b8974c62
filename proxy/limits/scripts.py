"""The Lua the Redis limiter runs: each script is one atomic step on the server.

Why Lua: several replicas admit for the same key at once; a read in Python followed by a
write would let two of them take the last slot. A script runs alone on the server, so the
check and the take are one step. Time is the server's own (`TIME`), so replicas with
skewed clocks agree on the window.

Per key (the id, never the key itself), under the hash tag `{id}` so a cluster keeps them
in one slot:

- `unigate:limits:{id}:leases` ZSET lease token -> expiry; expired leases are purged by
  every admit, so a lease left by a replica that died frees its slot after `lease_seconds`.
- `unigate:limits:{id}:requests` ZSET request token -> admission time (the RPM log).
- `unigate:limits:{id}:tokens` HASH second -> tokens charged in that second (TPM, at most
  ~62 fields; a bucket counts until all of it has left the window, so the limit errs on
  the strict side by under a second).

Every write sets a TTL, so an idle key's state vanishes by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha1

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

ADMIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local concurrency, rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local token, lease_seconds, window = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
if concurrency > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.6f', now))
  if redis.call('ZCARD', KEYS[1]) >= concurrency then
    return {1, 1000}
  end
end
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.6f', now - window))
  local count = redis.call('ZCARD', KEYS[2])
  if count >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[2], count - rpm, count - rpm, 'WITHSCORES')
    return {2, math.ceil((tonumber(oldest[2]) + window - now) * 1000)}
  end
end
if tpm > 0 then
  local fields = redis.call('HGETALL', KEYS[3])
  local seconds, used, sum = {}, {}, 0
  for i = 1, #fields, 2 do
    local second = tonumber(fields[i])
    if second + 1 <= now - window then
      redis.call('HDEL', KEYS[3], fields[i])
    else
      table.insert(seconds, second)
      used[second] = tonumber(fields[i + 1])
      sum = sum + used[second]
    end
  end
  if sum >= tpm then
    table.sort(seconds)
    for _, second in ipairs(seconds) do
      sum = sum - used[second]
      if sum < tpm then
        return {3, math.ceil((second + 1 + window - now) * 1000)}
      end
    end
    return {3, math.ceil(window * 1000)}
  end
end
if concurrency > 0 then
  redis.call('ZADD', KEYS[1], string.format('%.6f', now + lease_seconds), token)
  redis.call('PEXPIRE', KEYS[1], math.ceil((lease_seconds + 1) * 1000))
end
if rpm > 0 then
  redis.call('ZADD', KEYS[2], string.format('%.6f', now), token)
  redis.call('PEXPIRE', KEYS[2], math.ceil((window + 1) * 1000))
end
return {0, 0}
"""
"""KEYS: leases, requests, tokens. ARGV: concurrency, rpm, tpm (0 = no limit), a unique
token for this call, lease seconds, window seconds. Returns {0, 0} when admitted, else
{1 concurrency | 2 rpm | 3 tpm, milliseconds until a slot frees up}."""

CHARGE = """
local clock = redis.call('TIME')
local now, window = tonumber(clock[1]), tonumber(ARGV[2])
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if tonumber(field) + 1 <= now - window then
    redis.call('HDEL', KEYS[1], field)
  end
end
redis.call('HINCRBY', KEYS[1], string.format('%d', now), ARGV[1])
redis.call('EXPIRE', KEYS[1], window + 2)
return 0
"""
"""KEYS: tokens. ARGV: tokens used, window seconds. Old buckets are dropped here too, so a
busy key that is never admitted against a TPM limit keeps at most a window of buckets."""

REFRESH = """
local clock = redis.call('TIME')
local now, lease_seconds = tonumber(clock[1]) + tonumber(clock[2]) / 1000000, tonumber(ARGV[1])
local expiry = string.format('%.6f', now + lease_seconds)
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], math.ceil((lease_seconds + 1) * 1000))
return 0
"""
"""KEYS: leases. ARGV: lease seconds, then the tokens of this process's live leases. `XX`
never brings back a lease that was released (or purged) meanwhile."""


class Script:
    """EVALSHA, loading the script first and again after NOSCRIPT (a restarted or flushed
    server). Loading up front rather than trying EVALSHA blind keeps the common path to one
    round trip and never provokes an error reply on a fresh connection."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._loaded = False

    async def __call__(self, client: Redis, keys: Sequence[str], args: Sequence[str | int | float]) -> object:
        if not self._loaded:
            await client.script_load(self.source)
            self._loaded = True
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            await client.script_load(self.source)
            return await client.evalsha(self.sha, len(keys), *keys, *args)
