-- wrk script for bench/intake_throughput.py: pre-signed, distinct webhook deliveries.
--   wrk -t1 -c32 -d10s -s bench/intake.lua URL -- REQUESTS_FILE [RATE CONNECTIONS [LATENCY]]
-- REQUESTS_FILE: one delivery per line, "event<TAB>delivery id<TAB>signature<TAB>body".
-- With RATE (requests/s over all connections) each connection waits between its
-- requests so that the total is RATE (less LATENCY ms, the answer's own time, when
-- given): latency is then measured at a fixed load.
-- Prints one JSON line: requests, seconds, statuses, latency percentiles (ms).

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_index", counter)
  table.insert(threads, thread)
end

local requests = {}
local position = 0
local interval = 0
statuses = {}
wrapped = 0

function init(args)
  local index, n = thread_index, 0
  local stride = tonumber(os.getenv("WRK_THREADS") or "1")
  for line in io.lines(args[1]) do
    n = n + 1
    if (n - 1) % stride == index - 1 then
      local event, delivery, signature, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["X-GitHub-Event"] = event,
        ["X-GitHub-Delivery"] = delivery,
        ["X-Hub-Signature-256"] = signature,
      }, body)
    end
  end
  if args[2] then
    interval = 1000 * tonumber(args[3]) / tonumber(args[2]) - tonumber(args[4] or "0")
    if interval < 0 then interval = 0 end
  end
end

function request()
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  return requests[position]
end

-- wrk takes whole milliseconds: carry the fractions so that the mean is `interval`
local carried = 0
function delay()
  local wait = math.floor(interval + carried)
  carried = interval + carried - wait
  return wait
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  local wraps = 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
    wraps = wraps + thread:get("wrapped")
  end
  local parts = {}
  for status, n in pairs(total) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "errors": %d, "wrapped": %d, "statuses": {%s},'
      .. ' "mean_ms": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout,
    wraps, table.concat(parts, ", "), latency.mean / 1000,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
