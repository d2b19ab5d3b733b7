-- wrk script: MLflow log-batch requests of 1000 metrics each (10 keys x 100 steps) that log the
-- same 1,000 steps of each key again and again with new timestamps: every point lands between
-- points already stored (a resumed or re-run training loop).
local run_id = os.getenv("RUN_ID")
local batch = 0
wrk.method = "POST"
wrk.path = "/api/2.0/mlflow/runs/log-batch"
wrk.headers["Content-Type"] = "application/json"

request = function()
  batch = batch + 1
  local parts = {}
  for k = 0, 9 do
    for s = 0, 99 do
      local step = (batch % 10) * 100 + s
      parts[#parts + 1] = string.format(
        '{"key":"m%d","value":%f,"timestamp":%d,"step":%d}', k, batch * 0.001 + s, 1700000000000 + batch, step)
    end
  end
  local body = '{"run_id":"' .. run_id .. '","metrics":[' .. table.concat(parts, ",") .. ']}'
  return wrk.format(nil, nil, nil, body)
end
