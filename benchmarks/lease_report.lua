-- wrk script for benchmarks/dispatch.py (b): every connection loops lease -> report.
--
--   wrk -t T -c C -d S -s benchmarks/lease_report.lua http://127.0.0.1:PORT -- SESSIONS_FILE
--
-- SESSIONS_FILE holds one "session token" line per worker session. A granted lease is
-- reported as delivered on the next request of the same thread (any of its
-- connections: a report names its session and carries that session's token). At the
-- end each thread's granted, recorded, waits and failures are printed as one line
-- "counts granted recorded waits failures", summed by the caller.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local sessions = {}
local tokens = {}
local next_session = 1
local reports = {}
granted, recorded, waits, failures = 0, 0, 0, 0  -- globals: done() reads them

function init(args)
   for line in io.lines(args[1]) do
      local session, token = line:match("^(%S+) (%S+)$")
      table.insert(sessions, session)
      tokens[session] = token
   end
   -- Threads start on different sessions so they do not all contend for one country.
   next_session = math.random(#sessions)
end

local function post(path, session, body)
   return wrk.format("POST", path, {
      ["Authorization"] = "Bearer " .. tokens[session],
      ["Content-Type"] = "application/json",
   }, body)
end

function request()
   local pending = table.remove(reports)
   if pending then
      return post("/api/v1/worker/report", pending.session,
         '{"trigger_id":"' .. pending.trigger .. '","session":"' .. pending.session ..
         '","outcome":"delivered"}')
   end
   local session = sessions[next_session]
   next_session = next_session % #sessions + 1
   return post("/api/v1/worker/lease", session, '{"session":"' .. session .. '"}')
end

function response(status, headers, body)
   if status ~= 200 then
      failures = failures + 1
      return
   end
   if body:find('"status":"recorded"', 1, true) then
      recorded = recorded + 1
   elseif body:find('"action":"send"', 1, true) then
      granted = granted + 1
      local trigger = body:match('"trigger_id":"(%x+)"')
      local pair = body:match('"pair":"([^"]+)"')
      local program = body:match('"program":"([^"]+)"')
      table.insert(reports, { trigger = trigger, session = program .. "_" .. pair })
   elseif body:find('"action":"wait"', 1, true) then
      waits = waits + 1
   elseif not body:find('"status":"duplicate"', 1, true) then
      failures = failures + 1
   end
end

function done(summary, latency, requests)
   for _, thread in ipairs(threads) do
      print(string.format("counts %d %d %d %d", thread:get("granted"), thread:get("recorded"),
         thread:get("waits"), thread:get("failures")))
   end
   print(string.format("latency_us %d %d", latency:percentile(50), latency:percentile(95)))
end
