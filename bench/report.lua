-- wrk script: the request from the environment, and a JSON summary at the end
-- (wrk's own --latency output has no p95).
--   BENCH_METHOD  GET (default), POST or PATCH
--   BENCH_BODY    a JSON body, sent with Content-Type: application/json
--   BENCH_AUTH    an Authorization header value
--   BENCH_CODES   a file of login codes, one per line: each request sends the next
--                 unused one as {"code": ...} (WeChat's codes are single-use)
--   BENCH_THREADS wrk's -t, so that each thread takes its own share of the codes
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local auth = os.getenv("BENCH_AUTH") or ""
local codes_file = os.getenv("BENCH_CODES") or ""

local headers = {}
if body ~= "" or codes_file ~= "" then
  headers["Content-Type"] = "application/json"
end
if auth ~= "" then
  headers["Authorization"] = auth
end

local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local codes = nil
local position = 0
function init(args)
  if codes_file == "" then
    return
  end
  local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
  codes = {}
  local line_number = 0
  for line in io.lines(codes_file) do
    if line_number % threads == id then
      codes[#codes + 1] = line
    end
    line_number = line_number + 1
  end
end

function request()
  if codes ~= nil then
    position = position + 1
    -- Past the end the code repeats: WeChat refuses it, and the error is counted.
    local code = codes[math.min(position, #codes)]
    return wrk.format(method, nil, headers, '{"code": "' .. code .. '"}')
  end
  return wrk.format(method, nil, headers, body ~= "" and body or nil)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
