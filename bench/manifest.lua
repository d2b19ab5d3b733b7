-- A fleet polling its manifest: each request from one of 100,000 device ids in turn (so each
-- device asks about twice a second at most, within the default per-device rate limit), with the
-- ETag it holds (wrk -H "If-None-Match: ...").
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, wrk.path .. "?device_id=d" .. (n % 100000) .. "&device_class=iPhone")
end
