-- One request, repeated on every connection: wrk -s request.lua URL
--   BENCH_WRK_DIR        this folder (for report.lua)
--   BENCH_METHOD         GET or POST
--   BENCH_BODY_FILE      JSON body to send (optional)
--   BENCH_AUTHORIZATION  "Bearer <jwt>" (optional; kept out of the command line)
-- An answer that is not 200, or whose body carries GraphQL "errors", counts as bad.
dofile(os.getenv("BENCH_WRK_DIR") .. "/report.lua")

wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["Accept"] = "application/json"
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end
