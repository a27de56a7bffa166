-- wrk script: GET requests of the iotda dialect signed ahead with an
-- access key (SDK-HMAC-SHA256), rotating over them (benchmark 8).
--
--   wrk -t2 -c50 -d10s -s bench/lua/iotda-signed.lua http://127.0.0.1:PORT \
--       -- SIGNED_FILE
--
-- SIGNED_FILE holds one request per line: "PATH<TAB>X-Sdk-Date<TAB>
-- Authorization" (run.sh signs them with t/lib/IoT/Iotda.pm, signed
-- headers host;x-sdk-date). The server checks every signature as it
-- would a fresh one; a date stays valid for 15 minutes. Every request is
-- built once in init(). done() prints the "RESULT key=value" lines of
-- get.lua.

local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    reqs = {}
    for line in io.lines(args[1]) do
        local path, date, auth = string.match(line, "^([^\t]+)\t([^\t]+)\t(.+)$")
        if path then
            reqs[#reqs + 1] = wrk.format("GET", path,
                { ["X-Sdk-Date"] = date, ["Authorization"] = auth })
        end
    end
    nreqs = #reqs
    counter = ((tid or 0) * 7919) % nreqs + 1
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
    io.write(string.format("RESULT lat_p50_us=%d\n", latency:percentile(50)))
    io.write(string.format("RESULT lat_p99_us=%d\n", latency:percentile(99)))
    io.write(string.format("RESULT err_connect=%d\n", e.connect))
    io.write(string.format("RESULT err_read=%d\n", e.read))
    io.write(string.format("RESULT err_write=%d\n", e.write))
    io.write(string.format("RESULT err_timeout=%d\n", e.timeout))
    io.write(string.format("RESULT non2xx=%d\n", e.status))
end
