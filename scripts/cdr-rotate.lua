-- wrk script for scripts/bench-wrk: every request asks for another page of
-- the generated index (internal/cdrbench: calls over 2024) rather than one
-- URL over and over: a random day, direction and first page or one of the
-- next two, newest first, LIMIT items (env CDR_LIMIT, default 20).
-- The token comes from wrk's -H "X-Auth-Token: ...".
local limit = tonumber(os.getenv("CDR_LIMIT") or "20")
local base = 1704067200 -- 2024-01-01T00:00:00Z
local dirs = { "inbound", "outbound", "internal" }

function setup(thread)
	thread:set("seed", math.random(1, 1e9))
end

function init(args)
	math.randomseed(seed or 1)
end

function request()
	local day = base + math.random(0, 364) * 86400
	local path = string.format(
		"/api/call-logd/1.0/cdr?from=%s&until=%s&call_direction=%s&direction=desc&limit=%d&offset=%d",
		os.date("!%Y-%m-%dT%H:%M:%SZ", day), os.date("!%Y-%m-%dT%H:%M:%SZ", day + 86400),
		dirs[math.random(1, 3)], limit, limit * math.random(0, 2))
	return wrk.format("GET", path)
end
