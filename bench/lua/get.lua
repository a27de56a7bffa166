-- wrk script: GET a rotating set of paths with an X-API-Token header.
--
--   wrk -t2 -c50 -d10s -s bench/lua/get.lua http://127.0.0.1:PORT \
--       -- TOKEN PATHS_FILE
--
-- PATHS_FILE holds one request path per line (e.g. 1000 device URLs). Every
-- request string is built once in init(), so the client spends no time
-- formatting requests (both sides of a comparison use this same script).
-- Each thread starts at a different offset of the list.
--
-- WRK_AUTH=bearer (environment): send the token as "Authorization: Bearer"
-- (the things dialect); WRK_AUTH=iotda: as "X-Auth-Token" (the iotda
-- dialect).
--
-- WRK_DELAY_MS (environment, default 0): each connection waits that long
-- after an answer before its next request, so that the load has a bounded
-- rate (at most connections * 1000 / WRK_DELAY_MS requests/s) instead of
-- going as fast as the server does; wrk's latency does not include the wait. Used for the read
-- load that runs beside the creation load, whose latency should show the
-- server's stalls, not the queueing of a saturated closed loop.
-- WRK_DELAY_SPREAD=1: the wait is a random whole number of ms from 0 to
-- twice WRK_DELAY_MS (the same mean), so that connections answered
-- together do not all ask again together (wrk's timers fire by the ms).
--
-- done() prints machine-readable "RESULT key=value" lines (latencies in
-- microseconds) that bench/run.sh parses.

local threads = {}
local counter = 1

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    local token = args[1] or ""
    local file = args[2]
    local paths = {}

    if file then
        for line in io.lines(file) do
            if line ~= "" then
                paths[#paths + 1] = line
            end
        end
    end
    if #paths == 0 then
        paths[1] = "/"
    end

    -- WRK_AUTH=bearer (environment): the token as Authorization: Bearer
    -- (the things dialect) instead of X-API-Token
    local headers = { ["X-API-Token"] = token }
    if os.getenv("WRK_AUTH") == "bearer" then
        headers = { ["Authorization"] = "Bearer " .. token }
    elseif os.getenv("WRK_AUTH") == "iotda" then
        headers = { ["X-Auth-Token"] = token }
    end

    reqs = {}
    for i, p in ipairs(paths) do
        reqs[i] = wrk.format("GET", p, headers)
    end
    nreqs = #reqs
    counter = ((tid or 0) * 7919) % nreqs + 1
end

-- wrk decides whether delay() exists from the main script state, before
-- any init(): so it is defined (or not) here, from the environment
local delay_ms = tonumber(os.getenv("WRK_DELAY_MS") or "0") or 0
if delay_ms > 0 and os.getenv("WRK_DELAY_SPREAD") == "1" then
    function delay()
        return math.random(0, 2 * delay_ms)
    end
elseif delay_ms > 0 then
    function delay()
        return delay_ms
    end
end

function request()
    local r = reqs[counter]
    counter = counter + 1
    if counter > nreqs then
        counter = 1
    end
    return r
end

function done(summary, latency, requests)
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format("RESULT requests=%d\n", summary.requests))
    io.write(string.format("RESULT duration_s=%.3f\n", secs))
    io.write(string.format("RESULT rps=%.1f\n", summary.requests / secs))
    io.write(string.format("RESULT bytes=%d\n", summary.bytes))
    io.write(string.format("RESULT lat_mean_us=%.1f\n", latency.mean))
    io.write(string.format("RESULT lat_p50_us=%d\n", latency:percentile(50)))
    io.write(string.format("RESULT lat_p90_us=%d\n", latency:percentile(90)))
    io.write(string.format("RESULT lat_p99_us=%d\n", latency:percentile(99)))
    io.write(string.format("RESULT lat_max_us=%d\n", latency.max))
    io.write(string.format("RESULT err_connect=%d\n", e.connect))
    io.write(string.format("RESULT err_read=%d\n", e.read))
    io.write(string.format("RESULT err_write=%d\n", e.write))
    io.write(string.format("RESULT err_timeout=%d\n", e.timeout))
    io.write(string.format("RESULT non2xx=%d\n", e.status))
end
