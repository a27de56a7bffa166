-- wrk script: POST signed SenML packs to the things dialect's ingestion
-- path, rotating over pre-signed packs (benchmark 7).
--
--   wrk -t2 -c32 -d10s -s bench/lua/senml.lua http://127.0.0.1:PORT \
--       -- PACKS_FILE
--
-- PACKS_FILE holds one pack per line: "TOKEN BODY", TOKEN being the hex
-- SHA-256 of BODY followed by the device's shared secret (run.sh signs
-- them with sha256sum). Every request is built once in init().
--
-- Counts the answers by status (response() callback) and prints
-- "RESULT key=value" lines from done(): s204 (taken), non204 and the
-- statuses of the others, the first refusal's body, latencies (us).

local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    local file = args[1]
    reqs = {}
    for line in io.lines(file) do
        local token, body = string.match(line, "^(%x+) (.+)$")
        if token then
            reqs[#reqs + 1] = wrk.format("POST", "/ingestion/ip/senml/v1",
                { ["Things-Message-Token"] = token,
                  ["Content-Type"] = "application/json" }, body)
        end
    end
    nreqs = #reqs
    counter = ((tid or 0) * 7919) % nreqs + 1
    s204 = 0
    others = {}
    first_error = ""
end

function request()
    local r = reqs[counter]
    counter = counter + 1
    if counter > nreqs then
        counter = 1
    end
    return r
end

function response(status, hdrs, body)
    if status == 204 then
        s204 = s204 + 1
    else
        others[status] = (others[status] or 0) + 1
        if first_error == "" then
            first_error = tostring(status) .. " "
                          .. string.sub(body or "", 1, 200)
        end
    end
end

function done(summary, latency, requests)
    local t204, nother, ferr = 0, 0, ""
    local tothers = {}
    for _, t in ipairs(threads) do
        t204 = t204 + t:get("s204")
        local o = t:get("others")
        if o then
            for k, v in pairs(o) do
                tothers[k] = (tothers[k] or 0) + v
                nother = nother + v
            end
        end
        local fe = t:get("first_error")
        if ferr == "" and fe and fe ~= "" then
            ferr = fe
        end
    end
    local parts = {}
    for k, v in pairs(tothers) do
        parts[#parts + 1] = tostring(k) .. ":" .. tostring(v)
    end
    table.sort(parts)
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format("RESULT requests=%d\n", summary.requests))
    io.write(string.format("RESULT duration_s=%.3f\n", secs))
    io.write(string.format("RESULT s204=%d\n", t204))
    io.write(string.format("RESULT taken_per_s=%.1f\n", t204 / secs))
    io.write(string.format("RESULT non204=%d\n", nother))
    io.write(string.format("RESULT non204_by_status=%s\n",
                           #parts > 0 and table.concat(parts, ",") or "none"))
    io.write(string.format("RESULT first_error=%s\n",
                           (string.gsub(ferr, "[\r\n]", " "))))
    io.write(string.format("RESULT lat_p50_us=%d\n", latency:percentile(50)))
    io.write(string.format("RESULT lat_p99_us=%d\n", latency:percentile(99)))
    io.write(string.format("RESULT err_connect=%d\n", e.connect))
    io.write(string.format("RESULT err_read=%d\n", e.read))
    io.write(string.format("RESULT err_write=%d\n", e.write))
    io.write(string.format("RESULT err_timeout=%d\n", e.timeout))
end
