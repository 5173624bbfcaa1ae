-- switchyard.lua: routing state, balancer and admin API of Switchyard's shared
-- nginx. Written into <lab dir>/nginx/lua/ by package labnginx; do not edit the
-- copy there.
--
-- The whole routing state (a version and a list of routes, each with a pool of
-- weighted backends) lives as canonical JSON in the shared dict "switchyard"
-- under key "state", with its version under key "version". Each worker keeps a
-- compiled copy and recompiles it when the version changes, so a PUT on the
-- admin API takes effect on the next request of every worker, without reload.
-- Backends are picked per request by smooth weighted round robin (per worker),
-- skipping backends that already failed to connect for this request.

local _M = {}

local ngx = ngx
local shared = ngx.shared.switchyard
local floor = math.floor
local concat = table.concat
local byte, char, sub, find, format = string.byte, string.char, string.sub, string.find, string.format

local config = { state_file = nil, allowed = {} }

---------------------------------------------------------------------------
-- JSON (Debian's nginx Lua module ships without cjson)
---------------------------------------------------------------------------

local function utf8_char(cp)
  if cp < 0x80 then return char(cp) end
  if cp < 0x800 then return char(0xC0 + floor(cp / 0x40), 0x80 + cp % 0x40) end
  if cp < 0x10000 then
    return char(0xE0 + floor(cp / 0x1000), 0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return char(0xF0 + floor(cp / 0x40000), 0x80 + floor(cp / 0x1000) % 0x40,
    0x80 + floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local simple_escapes = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f', n = '\n', r = '\r', t = '\t' }

-- json_decode returns the decoded value, or nil and an error message.
local function json_decode(s)
  local pos = 1
  local function fail(msg) error({ json_error = format("invalid JSON: %s at byte %d", msg, pos) }, 0) end
  local function skip() pos = find(s, "[^ \t\r\n]", pos) or (#s + 1) end
  local value

  local function str()
    pos = pos + 1
    local buf = {}
    while true do
      local a = find(s, '["\\%c]', pos)
      if not a then fail("unterminated string") end
      buf[#buf + 1] = sub(s, pos, a - 1)
      local c = sub(s, a, a)
      if c == '"' then
        pos = a + 1
        return concat(buf)
      elseif c == '\\' then
        local e = sub(s, a + 1, a + 1)
        if simple_escapes[e] then
          buf[#buf + 1] = simple_escapes[e]
          pos = a + 2
        elseif e == 'u' then
          local hex = sub(s, a + 2, a + 5)
          if not hex:match("^%x%x%x%x$") then pos = a; fail("bad \\u escape") end
          local cp = tonumber(hex, 16)
          pos = a + 6
          if cp >= 0xD800 and cp <= 0xDBFF and sub(s, pos, pos + 1) == "\\u" then
            local lo = tonumber(sub(s, pos + 2, pos + 5), 16)
            if lo and lo >= 0xDC00 and lo <= 0xDFFF then
              cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
              pos = pos + 6
            end
          end
          buf[#buf + 1] = utf8_char(cp)
        else
          pos = a
          fail("bad escape")
        end
      else
        pos = a
        fail("control character in string")
      end
    end
  end

  function value()
    skip()
    local c = sub(s, pos, pos)
    if c == '{' then
      pos = pos + 1
      local obj = {}
      skip()
      if sub(s, pos, pos) == '}' then pos = pos + 1; return obj end
      while true do
        skip()
        if sub(s, pos, pos) ~= '"' then fail("expected a string key") end
        local k = str()
        skip()
        if sub(s, pos, pos) ~= ':' then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value()
        skip()
        local d = sub(s, pos, pos)
        pos = pos + 1
        if d == '}' then return obj end
        if d ~= ',' then pos = pos - 1; fail("expected ',' or '}'") end
      end
    elseif c == '[' then
      pos = pos + 1
      local arr = {}
      skip()
      if sub(s, pos, pos) == ']' then pos = pos + 1; return arr end
      while true do
        arr[#arr + 1] = value()
        skip()
        local d = sub(s, pos, pos)
        pos = pos + 1
        if d == ']' then return arr end
        if d ~= ',' then pos = pos - 1; fail("expected ',' or ']'") end
      end
    elseif c == '"' then
      return str()
    elseif c == 't' and sub(s, pos, pos + 3) == "true" then
      pos = pos + 4; return true
    elseif c == 'f' and sub(s, pos, pos + 4) == "false" then
      pos = pos + 5; return false
    elseif c == 'n' and sub(s, pos, pos + 3) == "null" then
      pos = pos + 4; return ngx.null
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" or not tonumber(num) then fail("unexpected character") end
      pos = pos + #num
      return tonumber(num)
    end
  end

  local ok, res = pcall(function()
    local v = value()
    skip()
    if pos <= #s then fail("trailing data") end
    return v
  end)
  if ok then return res end
  if type(res) == "table" and res.json_error then return nil, res.json_error end
  return nil, tostring(res)
end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' end
    if c == '\\' then return '\\\\' end
    return format("\\u%04x", byte(c))
  end) .. '"'
end

-- encode_state renders a validated state as canonical JSON (the same field
-- names as Go's traffic.State).
local function encode_route(r)
  local bs = {}
  for i, b in ipairs(r.backends) do
    bs[i] = format('{"address":%s,"weight":%d,"platform":%s,"app":%s,"id":%s}',
      json_string(b.address), b.weight, json_string(b.platform), json_string(b.app), json_string(b.id))
  end
  return format('{"name":%s,"host":%s,"pathPrefix":%s,"backends":[%s]}',
    json_string(r.name), json_string(r.host), json_string(r.pathPrefix), concat(bs, ","))
end

local function encode_state(st)
  local rs = {}
  for i, r in ipairs(st.routes) do rs[i] = encode_route(r) end
  return format('{"version":%d,"routes":[%s]}', st.version, concat(rs, ","))
end

_M.json_decode = json_decode
_M.encode_state = encode_state

---------------------------------------------------------------------------
-- Validation (the Go client validates too; this is nginx's own guard)
---------------------------------------------------------------------------

local function parse_ipv4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
  if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
  return ((a * 256 + b) * 256 + c) * 256 + d
end

local function parse_cidr(s)
  local ip, bits = s:match("^([%d%.]+)/(%d+)$")
  local n = ip and parse_ipv4(ip)
  bits = tonumber(bits)
  if not n or not bits or bits > 32 then return nil end
  local size = 2 ^ (32 - bits)
  local base = n - n % size
  return { first = base, last = base + size - 1, text = s }
end

local function address_allowed(n)
  if n >= 0x7F000000 and n <= 0x7FFFFFFF then return true end -- 127.0.0.0/8
  for _, p in ipairs(config.allowed) do
    if n >= p.first and n <= p.last then return true end
  end
  return false
end

-- trim_prefix drops a trailing "/" (not from "/"): "/a/" and "/a" route alike.
local function trim_prefix(p)
  if #p > 1 and sub(p, -1) == "/" then return sub(p, 1, -2) end
  return p
end

local function is_int(v) return type(v) == "number" and v == floor(v) end
local function opt_string(v) return v == nil or v == ngx.null or type(v) == "string" end
local function str_or_empty(v) if type(v) == "string" then return v end return "" end

-- check_route validates a decoded route and returns a normalized copy.
local function check_route(r, where)
  if type(r) ~= "table" then return nil, where .. ": must be an object" end
  if type(r.name) ~= "string" or r.name == "" or not r.name:match("^[%w%._%-/]+$") then
    return nil, where .. ".name: must be a non-empty string of letters, digits, '.', '_', '-', '/'"
  end
  if not opt_string(r.host) then return nil, where .. ".host: must be a string" end
  if not opt_string(r.pathPrefix) then return nil, where .. ".pathPrefix: must be a string" end
  local prefix = str_or_empty(r.pathPrefix)
  if prefix == "" then prefix = "/" end
  if sub(prefix, 1, 1) ~= "/" then return nil, where .. ".pathPrefix: must start with '/'" end
  local host = str_or_empty(r.host)
  if host ~= host:lower() or find(host, "[:/ ]") then
    return nil, where .. ".host: " .. json_string(host) .. " must be a lowercase host name without port"
  end
  local out = { name = r.name, host = host, pathPrefix = prefix, backends = {} }
  local bs = r.backends
  if bs == nil or bs == ngx.null then bs = {} end
  if type(bs) ~= "table" then return nil, where .. ".backends: must be an array" end
  local seen = {}
  for i, b in ipairs(bs) do
    local w = format("%s.backends[%d]", where, i - 1)
    if type(b) ~= "table" then return nil, w .. ": must be an object" end
    if type(b.address) ~= "string" then return nil, w .. ".address: must be a string host:port" end
    local host, port = b.address:match("^([%d%.]+):(%d+)$")
    local n = host and parse_ipv4(host)
    port = tonumber(port)
    if not n or not port or port < 1 or port > 65535 then
      return nil, w .. ".address: " .. b.address .. " must be IPv4:port"
    end
    if not address_allowed(n) then
      return nil, w .. ".address: " .. b.address .. " is neither loopback nor in the lab's pod network"
    end
    if seen[b.address] then return nil, w .. ".address: " .. b.address .. " is listed twice" end
    seen[b.address] = true
    if not is_int(b.weight) or b.weight < 0 then return nil, w .. ".weight: must be an integer >= 0" end
    if b.platform ~= "marathon" and b.platform ~= "kubernetes" then
      return nil, w .. ".platform: must be \"marathon\" or \"kubernetes\""
    end
    if not opt_string(b.app) or not opt_string(b.id) then return nil, w .. ".app/.id: must be strings" end
    out.backends[i] = { address = b.address, host = host, port = port, weight = b.weight,
      platform = b.platform, app = str_or_empty(b.app), id = str_or_empty(b.id) }
  end
  return out
end

local function check_state(st)
  if type(st) ~= "table" then return nil, "state: must be an object" end
  if not is_int(st.version) or st.version < 0 then return nil, "version: must be an integer >= 0" end
  local rs = st.routes
  if rs == nil or rs == ngx.null then rs = {} end
  if type(rs) ~= "table" then return nil, "routes: must be an array" end
  local out = { version = st.version, routes = {} }
  local names, keys = {}, {}
  for i, r in ipairs(rs) do
    local route, err = check_route(r, format("routes[%d]", i - 1))
    if not route then return nil, err end
    if names[route.name] then return nil, format("routes[%d].name: %q is used twice", i - 1, route.name) end
    names[route.name] = true
    local key = route.host .. " " .. trim_prefix(route.pathPrefix)
    if keys[key] then
      return nil, format("routes[%d]: host %q and pathPrefix %q are already routed by %q",
        i - 1, route.host, route.pathPrefix, keys[key])
    end
    keys[key] = route.name
    out.routes[i] = route
  end
  return out
end

---------------------------------------------------------------------------
-- Per-worker compiled routing table
---------------------------------------------------------------------------

local compiled = { version = -1, by_host = {}, any = {}, by_name = {} }

local function compile(st, old)
  local c = { version = st.version, by_host = {}, any = {}, by_name = {} }
  for _, r in ipairs(st.routes) do
    local live = 0
    local peers = {}
    local before = {}
    local oldr = old and old.by_name[r.name]
    for _, p in ipairs(oldr and oldr.peers or {}) do before[p.address] = p.down_until end
    for i, b in ipairs(r.backends) do
      peers[i] = { address = b.address, host = b.host, port = b.port, weight = b.weight,
        platform = b.platform, app = b.app, cw = 0, down_until = before[b.address] or 0 }
      if b.weight > 0 then live = live + 1 end
    end
    local cr = { name = r.name, prefix = trim_prefix(r.pathPrefix), peers = peers, live = live }
    c.by_name[r.name] = cr
    local list
    if r.host == "" then
      list = c.any
    else
      list = c.by_host[r.host] or {}
      c.by_host[r.host] = list
    end
    list[#list + 1] = cr
  end
  local function longest_first(a, b) return #a.prefix > #b.prefix end
  table.sort(c.any, longest_first)
  for _, list in pairs(c.by_host) do table.sort(list, longest_first) end
  return c
end

local function refresh()
  local v = shared:get("version")
  if v == nil or v == compiled.version then return compiled end
  local raw = shared:get("state")
  local st, err = json_decode(raw or '{"version":0,"routes":[]}')
  if not st then
    ngx.log(ngx.ERR, "switchyard: stored state is unreadable: ", err)
    return compiled
  end
  st, err = check_state(st)
  if not st then
    ngx.log(ngx.ERR, "switchyard: stored state is invalid: ", err)
    return compiled
  end
  compiled = compile(st, compiled)
  return compiled
end

local function prefix_matches(prefix, path)
  if prefix == "/" then return true end
  if sub(path, 1, #prefix) ~= prefix then return false end
  local nextc = sub(path, #prefix + 1, #prefix + 1)
  return nextc == "" or nextc == "/"
end

local function match(c, host, path)
  local list = c.by_host[host]
  if list then
    for _, r in ipairs(list) do
      if prefix_matches(r.prefix, path) then return r end
    end
  end
  for _, r in ipairs(c.any) do
    if prefix_matches(r.prefix, path) then return r end
  end
  return nil
end

-- FAIL_TIMEOUT is how long (seconds) a worker avoids a backend after a try on
-- it failed (like nginx's max_fails=1 fail_timeout), unless every backend of
-- the pool is marked.
local FAIL_TIMEOUT = 2

-- pick: smooth weighted round robin over the peers with weight > 0 that this
-- request has not tried yet and that did not fail recently (when now is nil,
-- recent failures are ignored).
local function pick_pass(route, tried, now)
  local best, total = nil, 0
  for _, p in ipairs(route.peers) do
    if p.weight > 0 and not tried[p.address] and (now == nil or p.down_until <= now) then
      p.cw = p.cw + p.weight
      total = total + p.weight
      if best == nil or p.cw > best.cw then best = p end
    end
  end
  if best then best.cw = best.cw - total end
  return best
end

local function pick(route, tried)
  return pick_pass(route, tried, ngx.now()) or pick_pass(route, tried, nil)
end

---------------------------------------------------------------------------
-- State storage
---------------------------------------------------------------------------

local function store(st)
  local raw = encode_state(st)
  local ok, err = shared:set("state", raw)
  if not ok then return nil, "shared dict: " .. tostring(err) end
  ok, err = shared:set("version", st.version)
  if not ok then return nil, "shared dict: " .. tostring(err) end
  return raw
end

local function persist(raw)
  if not config.state_file then return true end
  local tmp = config.state_file .. ".nginx-tmp"
  local f, err = io.open(tmp, "w")
  if not f then return nil, "write " .. tmp .. ": " .. tostring(err) end
  local ok, werr = f:write(raw, "\n")
  f:close()
  if not ok then return nil, "write " .. tmp .. ": " .. tostring(werr) end
  local rok, rerr = os.rename(tmp, config.state_file)
  if not rok then return nil, "rename " .. tmp .. ": " .. tostring(rerr) end
  return true
end

local function current_state()
  local raw = shared:get("state") or '{"version":0,"routes":[]}'
  local st = json_decode(raw)
  return check_state(st)
end

---------------------------------------------------------------------------
-- Phases
---------------------------------------------------------------------------

-- init runs in init_by_lua (master): it loads the state file written by
-- Switchyard so that a restarted nginx routes exactly as before.
function _M.init(opts)
  config.state_file = opts.state_file
  config.allowed = {}
  for _, cidr in ipairs(opts.allowed or {}) do
    local p = parse_cidr(cidr)
    if not p then error("switchyard: allowed network " .. cidr .. " is not an IPv4 CIDR") end
    config.allowed[#config.allowed + 1] = p
  end
  local st = { version = 0, routes = {} }
  local f = config.state_file and io.open(config.state_file, "r")
  if f then
    local raw = f:read("*a")
    f:close()
    if raw:match("%S") then
      local decoded, err = json_decode(raw)
      if not decoded then
        error("switchyard: routing state " .. config.state_file .. ": " .. err ..
          " (fix the file or remove it to start with no routes)", 0)
      end
      st, err = check_state(decoded)
      if not st then
        error("switchyard: routing state " .. config.state_file .. ": " .. err ..
          " (fix the file or remove it to start with no routes)", 0)
      end
    end
  end
  local _, err = store(st)
  if err then error("switchyard: " .. err, 0) end
end

local function reject(status, msg)
  ngx.status = status
  ngx.header["Content-Type"] = "text/plain; charset=utf-8"
  ngx.say(msg)
  return ngx.exit(ngx.HTTP_OK)
end

-- route runs in the access phase of the public server: it finds the route by
-- Host and longest path prefix and refuses requests that have nowhere to go.
function _M.route()
  local c = refresh()
  local host = (ngx.var.host or ""):lower()
  local r = match(c, host, ngx.var.uri)
  if not r then
    ngx.var.sy_route = "-"
    return reject(404, format("switchyard: no route for host %q and path %q", host, ngx.var.uri))
  end
  ngx.var.sy_route = r.name
  if r.live == 0 then
    return reject(503, format("switchyard: route %q has no backend with weight > 0", r.name))
  end
  ngx.ctx.sy_route = r
end

-- balance runs in balancer_by_lua for the first try and each retry.
function _M.balance()
  local b = require "ngx.balancer"
  local ctx = ngx.ctx
  local routed = ctx.sy_route
  if not routed then return ngx.exit(ngx.ERROR) end
  local c = refresh()
  -- Use the newest pool of this route (weights may have changed since the
  -- access phase); fall back to the pool the request was routed with when
  -- the newest has nothing left for it (its backends are still draining).
  local r = c.by_name[routed.name] or routed
  local tried = ctx.sy_tried
  if not tried then
    tried = {}
    ctx.sy_tried = tried
    if r.live > 1 then b.set_more_tries(r.live - 1) end
  elseif ctx.sy_peer then
    -- This is a retry: the previous try failed; avoid that backend for a while.
    ctx.sy_peer.down_until = ngx.now() + FAIL_TIMEOUT
  end
  local p = pick(r, tried)
  if not p and r ~= routed then p = pick(routed, tried) end
  if not p then
    -- Only when the pool shrank between tries; nginx answers 500.
    ngx.log(ngx.ERR, "switchyard: route ", r.name, ": no untried backend left for this request")
    return ngx.exit(ngx.ERROR)
  end
  tried[p.address] = true
  ctx.sy_peer = p
  ngx.var.sy_platform = p.platform
  ngx.var.sy_app = p.app
  local ok, err = b.set_current_peer(p.host, p.port)
  if not ok then
    ngx.log(ngx.ERR, "switchyard: set peer ", p.address, ": ", err)
    return ngx.exit(ngx.ERROR)
  end
end

---------------------------------------------------------------------------
-- Admin API (loopback listener only)
---------------------------------------------------------------------------

local function respond(status, body, ctype)
  ngx.status = status
  ngx.header["Content-Type"] = ctype or "application/json"
  ngx.print(body)
  if sub(body, -1) ~= "\n" then ngx.print("\n") end
  return ngx.exit(ngx.HTTP_OK)
end

local function error_body(msg) return format('{"error":%s}', json_string(msg)) end

local function read_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then return data end
  local file = ngx.req.get_body_file()
  if not file then return "" end
  local f = io.open(file, "r")
  if not f then return nil end
  data = f:read("*a")
  f:close()
  return data
end

-- with_lock serializes writers across workers.
local function with_lock(fn)
  for _ = 1, 500 do
    if shared:add("lock", true, 10) then
      local ok, a, b, c = pcall(fn)
      shared:delete("lock")
      if not ok then error(a) end
      return a, b, c
    end
    ngx.sleep(0.01)
  end
  return nil, 503, "another update is in progress"
end

-- commit stores and persists a new state; it returns the stored JSON.
local function commit(st)
  local raw = encode_state(st)
  local ok, err = persist(raw)
  if not ok then return nil, 500, "state not applied: " .. err end
  raw, err = store(st)
  if not raw then return nil, 500, "state not applied: " .. err end
  return raw
end

local function put_state(body)
  local decoded, err = json_decode(body)
  if not decoded then return nil, 400, err end
  local st
  st, err = check_state(decoded)
  if not st then return nil, 400, err end
  return with_lock(function()
    local cur = shared:get("version") or 0
    if st.version <= cur then
      return nil, 409, format("version %d is not newer than the active version %d", st.version, cur)
    end
    return commit(st)
  end)
end

local function put_route(name, body)
  local decoded, err = json_decode(body)
  if not decoded then return nil, 400, err end
  if type(decoded) == "table" and (decoded.name == nil or decoded.name == ngx.null) then decoded.name = name end
  if type(decoded) ~= "table" or decoded.name ~= name then
    return nil, 400, format("route name in body must match the path (%q)", name)
  end
  return with_lock(function()
    local st, serr = current_state()
    if not st then return nil, 500, "active state unreadable: " .. serr end
    local routes, replaced = {}, false
    for _, r in ipairs(st.routes) do
      if r.name == name then
        routes[#routes + 1] = decoded
        replaced = true
      else
        routes[#routes + 1] = r
      end
    end
    if not replaced then routes[#routes + 1] = decoded end
    local want = tonumber(ngx.var.arg_version)
    if want and want ~= st.version then
      return nil, 409, format("active version is %d, not %d", st.version, want)
    end
    local nst, verr = check_state({ version = st.version + 1, routes = routes })
    if not nst then return nil, 400, verr end
    return commit(nst)
  end)
end

local function delete_route(name)
  return with_lock(function()
    local st, serr = current_state()
    if not st then return nil, 500, "active state unreadable: " .. serr end
    local routes, found = {}, false
    for _, r in ipairs(st.routes) do
      if r.name == name then found = true else routes[#routes + 1] = r end
    end
    if not found then return nil, 404, format("no route %q", name) end
    return commit({ version = st.version + 1, routes = routes })
  end)
end

-- admin is the content handler of the admin listener.
function _M.admin()
  local method, uri = ngx.req.get_method(), ngx.var.uri
  if uri == "/healthz" then
    local c = refresh()
    local n = 0
    for _ in pairs(c.by_name) do n = n + 1 end
    return respond(200, format('{"status":"ok","version":%d,"routes":%d}', c.version, n))
  end
  if uri == "/routes" then
    if method == "GET" then return respond(200, shared:get("state") or '{"version":0,"routes":[]}') end
    if method == "PUT" then
      local body = read_body()
      if not body then return respond(400, error_body("request body unreadable")) end
      local raw, status, err = put_state(body)
      if not raw then return respond(status, error_body(err)) end
      return respond(200, raw)
    end
    ngx.header["Allow"] = "GET, PUT"
    return respond(405, error_body("method not allowed"))
  end
  local name = uri:match("^/routes/(.+)$")
  if name then
    if method == "GET" then
      local st = current_state()
      for _, r in ipairs(st and st.routes or {}) do
        if r.name == name then return respond(200, encode_route(r)) end
      end
      return respond(404, error_body(format("no route %q", name)))
    end
    local raw, status, err
    if method == "PUT" then
      local body = read_body()
      if not body then return respond(400, error_body("request body unreadable")) end
      raw, status, err = put_route(name, body)
    elseif method == "DELETE" then
      raw, status, err = delete_route(name)
    else
      ngx.header["Allow"] = "GET, PUT, DELETE"
      return respond(405, error_body("method not allowed"))
    end
    if not raw then return respond(status, error_body(err)) end
    return respond(200, raw)
  end
  return respond(404, error_body("unknown admin path " .. uri .. " (try /routes, /routes/NAME, /healthz, /stub_status)"))
end

return _M
