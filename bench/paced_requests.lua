-- wrk script for bench.pipeline and bench.floor: requests to intake at a fixed rate,
-- request i leaving at start + i / rate whatever the earlier ones are doing (open loop,
-- up to as many at once as wrk has connections). wrk runs it in one thread: the slots
-- are shared by all its connections.
-- Arguments: <api key> <requests per second> <connections> [path, /v1/requests by default]
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } loket_timespec;
  int clock_gettime(int clock, loket_timespec *now);
]]
local clock = ffi.new("loket_timespec")

local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local key, gap, path, next_slot
local counter = 0
threads_made = 0 -- in wrk's main state; each thread gets its own number as `id`

function setup(thread)
  threads_made = threads_made + 1
  thread:set("id", threads_made)
end

function init(args)
  key, gap, path = args[1], 1000 / tonumber(args[2]), args[4] or "/v1/requests"
  -- Each connection's first request leaves at once: the slots begin after them.
  next_slot = now_ms() + tonumber(args[3]) * gap
end

function delay()
  local wait = next_slot - now_ms()
  next_slot = next_slot + gap
  return wait > 0 and wait or 0
end

function request()
  counter = counter + 1
  local n = id .. "-" .. counter
  local body = '{"channel":"web","category":"password_reset","subject":"Locked out ' .. n ..
    '","description":"I cannot sign in since this morning.",' ..
    '"fields":{"account":"user' .. n .. '","system":"workstation"},' ..
    '"requester":{"name":"J. Doe","email":"j.doe@example.org","language":"en"},' ..
    '"impact":"low","urgency":"medium"}'
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json",
  }, body)
end
