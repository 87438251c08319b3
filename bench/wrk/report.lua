-- Shared by the bench's wrk scripts (loaded with dofile): keeps each thread,
-- and at the end prints one machine-readable line, BENCH_RESULT {json}, with
-- the counts, the latency percentiles (µs) and the answers judged bad.
threads = {}
bad = 0

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local judged_bad = 0
  for _, thread in ipairs(threads) do
    judged_bad = judged_bad + (thread:get("bad") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, "bad": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout, judged_bad))
end
