-- One request shape, repeated, counting replies whose status is not the expected one.
-- wrk -s request.lua <url> -- METHOD PATH EXPECTED_STATUS BODY COOKIE [UNIQUE_EMAILS]
-- With UNIQUE_EMAILS set, "{n}" in BODY becomes a new number on every request.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  method, path, expected, body, cookie, unique = args[1], args[2], tonumber(args[3]), args[4], args[5], args[6]
  unexpected, counter = 0, 0
  headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Cookie"] = cookie
  if method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
end

function request()
  local payload = nil
  if method == "POST" then
    payload = body
    if unique == "1" then
      counter = counter + 1
      payload = string.gsub(body, "{n}", id .. "-" .. counter .. "-" .. os.time())
    end
  end
  return wrk.format(method, path, headers, payload)
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("unexpected")
  end
  io.write(string.format("unexpected: %d\n", total))
end
