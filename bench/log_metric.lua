-- wrk script: one MLflow log-metric request per call, step increasing per connection thread.
-- RUN_ID comes from the environment.
local run_id = os.getenv("RUN_ID")
local step = 0
wrk.method = "POST"
wrk.path = "/api/2.0/mlflow/runs/log-metric"
wrk.headers["Content-Type"] = "application/json"

request = function()
  step = step + 1
  local body = string.format(
    '{"run_id":"%s","key":"loss","value":%f,"timestamp":%d,"step":%d}',
    run_id, 1.0 / step, 1700000000000 + step, step)
  return wrk.format(nil, nil, nil, body)
end

-- The tail beyond wrk's --latency table, in milliseconds, for bench/run.sh to pick up.
done = function(summary, latency, requests)
  io.write(string.format("p99.9: %.2f ms\n", latency:percentile(99.9) / 1000))
end
