-- wrk script for bench.pipeline: each connection posts a new request to intake every
-- `pace` milliseconds (wrk counts the wait from the previous answer: the rate reached is
-- a little below connections / pace; bench.pipeline prints the rate it reached).
-- Arguments: <api key> <pace in ms> [path, /v1/requests by default]
local key, pace, path
local counter = 0
threads_made = 0  -- in wrk's main state; each thread gets its own number as `id`

function setup(thread)
  threads_made = threads_made + 1
  thread:set("id", threads_made)
end

function init(args)
  key, pace, path = args[1], tonumber(args[2]), args[3] or "/v1/requests"
end

function delay()
  return pace
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
