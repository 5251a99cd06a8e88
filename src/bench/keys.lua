-- keys.lua: wrk script that spreads GETs over N distinct cache keys with one fixed bearer token.
-- Each request picks a random key (uniform), e.g. /v1.0/users/u1 .. /v1.0/users/u500.
-- Used by src/bench/run.sh for the L2-hit row; run by hand with:
--   wrk -t2 -c32 -d10s --latency -s src/bench/keys.lua http://127.0.0.1:8080 -- 500 /v1.0/users/u bench
-- Arguments after "--": key count (default 500), path prefix (default /v1.0/users/u), token (default bench).

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_no", #threads)
end

function init(args)
  local count = tonumber(args[1]) or 500
  local prefix = args[2] or "/v1.0/users/u"
  local token = args[3] or "bench"
  local headers = { ["Authorization"] = "Bearer " .. token }
  -- Pre-format every request once: the per-request cost is one random number.
  requests = {}
  for i = 1, count do
    requests[i] = wrk.format("GET", prefix .. i, headers)
  end
  math.randomseed(os.time() * 1000 + (thread_no or 0) * 7919)
end

function request()
  return requests[math.random(#requests)]
end
