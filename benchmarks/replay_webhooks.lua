-- wrk script: replays pre-signed webhooks, one per line of a tab-separated file
-- (webhook-id, webhook-timestamp, webhook-signature, body). Each wrk thread sends its own share,
-- so no webhook-id is sent twice unless a thread runs out and starts over ("wrapped" > 0).
-- Usage: wrk -s replay_webhooks.lua <url> -- <file> <wrk threads>

local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  threads[#threads + 1] = thread
end

local requests = {}
local next_index = 1
wrapped = 0

function init(args)
  local path, threads = args[1], tonumber(args[2])
  local line_number = 0
  for line in io.lines(path) do
    if line_number % threads == thread_index then
      local id, timestamp, signature, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = timestamp,
        ["webhook-signature"] = signature,
      }, body)
    end
    line_number = line_number + 1
  end
end

function request()
  local raw = requests[next_index]
  next_index = next_index + 1
  if next_index > #requests then
    next_index = 1
    wrapped = wrapped + 1
  end
  return raw
end

-- One machine-readable line for bridge_throughput.py.
function done(summary, latency, requests)
  local wrapped_total = 0
  for _, thread in ipairs(threads) do
    wrapped_total = wrapped_total + thread:get("wrapped")
  end
  local errors = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d wrapped=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.status, errors.connect + errors.read + errors.write + errors.timeout, wrapped_total))
end
