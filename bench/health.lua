-- wrk script: GET /health, the ceiling (a request that does no store work).
wrk.method = "GET"
wrk.path = "/health"
