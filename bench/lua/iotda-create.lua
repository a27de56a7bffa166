-- wrk script: create devices through the iotda dialect (benchmark 8),
-- one unique node_id per request, with X-Auth-Token.
--
--   wrk -t2 -c32 -d10s -s bench/lua/iotda-create.lua http://127.0.0.1:PORT \
--       -- TOKEN /v5/iot/PROJECT/devices RUNID PRODUCT_ID
--
-- RUNID (0..9) keeps node ids unique across several runs on the same
-- store: node_id = "n" . RUNID . tid(2) . n(12), not an IMEI; device_id
-- is the default, PRODUCT_ID "_" node_id.
--
-- Counts the answers by status in every thread (response() callback) and
-- prints "RESULT key=value" lines from done():
--   sent      request() calls (requests written or about to be)
--   answered  responses received
--   s201      201 Created
--   other_N   count of status N (any status other than 201)
-- A request sent but not answered when wrk stops may still have been
-- committed by the server: the durability check allows for those.

local threads = {}

function setup(thread)
    thread:set("tid", #threads)
    table.insert(threads, thread)
end

function init(args)
    token = args[1] or ""
    path = args[2] or "/"
    runid = tonumber(args[3]) or 0
    product = args[4] or "bench"
    headers = { ["X-Auth-Token"] = token,
                ["Content-Type"] = "application/json" }
    n = 0
    sent = 0
    answered = 0
    s201 = 0
    others = {}
    first_error = ""
end

function request()
    n = n + 1
    sent = sent + 1
    local node = string.format("n%d%02d%012d", runid, tid, n)
    local body = '{"node_id":"' .. node .. '","product_id":"' .. product
                 .. '","device_name":"bench ' .. node .. '"}'
    return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
    answered = answered + 1
    if status == 201 then
        s201 = s201 + 1
    else
        others[status] = (others[status] or 0) + 1
        if first_error == "" then
            first_error = tostring(status) .. " "
                          .. string.sub(body or "", 1, 200)
        end
    end
end

function done(summary, latency, requests)
    local tsent, tans, t201 = 0, 0, 0
    local tothers = {}
    local ferr = ""
    for _, t in ipairs(threads) do
        tsent = tsent + t:get("sent")
        tans = tans + t:get("answered")
        t201 = t201 + t:get("s201")
        local o = t:get("others")
        if o then
            for k, v in pairs(o) do
                tothers[k] = (tothers[k] or 0) + v
            end
        end
        local fe = t:get("first_error")
        if ferr == "" and fe and fe ~= "" then
            ferr = fe
        end
    end
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format("RESULT requests=%d\n", summary.requests))
    io.write(string.format("RESULT duration_s=%.3f\n", secs))
    io.write(string.format("RESULT rps=%.1f\n", summary.requests / secs))
    io.write(string.format("RESULT sent=%d\n", tsent))
    io.write(string.format("RESULT answered=%d\n", tans))
    io.write(string.format("RESULT s201=%d\n", t201))
    io.write(string.format("RESULT created_per_s=%.1f\n", t201 / secs))
    local nother = 0
    local keys = {}
    for k, v in pairs(tothers) do
        nother = nother + v
        keys[#keys + 1] = k
    end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
        parts[#parts + 1] = tostring(k) .. ":" .. tostring(tothers[k])
    end
    io.write(string.format("RESULT non201=%d\n", nother))
    io.write(string.format("RESULT non201_by_status=%s\n",
                           #parts > 0 and table.concat(parts, ",") or "none"))
    io.write(string.format("RESULT first_error=%s\n",
                           (string.gsub(ferr, "[\r\n]", " "))))
    io.write(string.format("RESULT lat_mean_us=%.1f\n", latency.mean))
    io.write(string.format("RESULT lat_p50_us=%d\n", latency:percentile(50)))
    io.write(string.format("RESULT lat_p99_us=%d\n", latency:percentile(99)))
    io.write(string.format("RESULT lat_max_us=%d\n", latency.max))
    io.write(string.format("RESULT err_connect=%d\n", e.connect))
    io.write(string.format("RESULT err_read=%d\n", e.read))
    io.write(string.format("RESULT err_write=%d\n", e.write))
    io.write(string.format("RESULT err_timeout=%d\n", e.timeout))
end
