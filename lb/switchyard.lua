-- switchyard.lua: routing state, balancer, statistics and admin API of
-- Switchyard's load-balancer module for the operator's nginx. Written by
-- `switchyard lb render` (package lb embeds it); do not edit the copy nginx
-- loads: render it again.
--
-- The whole routing state (a version and a list of routes, each with a pool
-- of weighted backends) lives as canonical JSON in the shared dict
-- "switchyard" under key "state", with its version under key "version", and
-- in <state dir>/routes.json (written durably before the admin API answers).
-- Each worker keeps a compiled copy and recompiles it when the version
-- changes, so a PUT on the admin API takes effect on the next request of
-- every worker, without reload. Backends are picked per request by smooth
-- weighted round robin (per worker), skipping backends that already failed to
-- connect for this request.
--
-- Statistics (per route and platform: requests, 5xx, latency histogram) are
-- counted in the log phase into per-worker Lua tables and added to the shared
-- dict by a timer every FLUSH_INTERVAL seconds: no shared-dict lock per
-- request.

local _M = {}

local ngx = ngx
local shared = ngx.shared.switchyard
local floor = math.floor
local concat = table.concat
local byte, char, sub, find, format = string.byte, string.char, string.sub, string.find, string.format
local pairs, ipairs, type, tonumber, tostring = pairs, ipairs, type, tonumber, tostring
local bit = require "bit"
local ffi = require "ffi"

-- Bounds of the routing state (docs/load-balancer.md; traffic.Validate).
local MAX_VERSION = 2 ^ 53
local MAX_WEIGHT = 1000000
local MAX_ROUTES = 10000
local MAX_BACKENDS = 1000
local MAX_OWNER = 128

-- Latency histogram bounds (seconds), as in the contract.
local BOUNDS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 }
local NBOUNDS = #BOUNDS
local NBUCKETS = NBOUNDS + 1

-- FLUSH_INTERVAL (seconds) is how often each worker adds its counts to the
-- shared dict.
local FLUSH_INTERVAL = 0.5

local config = { state_file = nil, state_dir = nil, token = nil, token_file = nil, backends = {} }

local EMPTY_STATE = '{"version":0,"routes":[]}'

---------------------------------------------------------------------------
-- JSON (Debian's nginx Lua module ships without cjson)
---------------------------------------------------------------------------

-- Decoded arrays carry this metatable, so that an object is never taken for
-- an array (or the other way round).
local array_mt = {}

local function is_array(v) return type(v) == "table" and getmetatable(v) == array_mt end
local function is_object(v) return type(v) == "table" and getmetatable(v) == nil end

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
      local arr = setmetatable({}, array_mt)
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
      local n = tonumber(num)
      -- Numbers are doubles: above 2^53 a literal may not be what it says
      -- (2^53+1 reads as 2^53). Only the exact literal of 2^53 stays; any
      -- other literal that large reads as infinity, which every bound refuses.
      if (n >= MAX_VERSION or n <= -MAX_VERSION) and num ~= "9007199254740992" and num ~= "-9007199254740992" then
        n = n > 0 and math.huge or -math.huge
      end
      return n
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

-- json_number renders a finite number (integers without a fraction).
local function json_number(n)
  if n == floor(n) and n >= -MAX_VERSION and n <= MAX_VERSION then return format("%d", n) end
  return format("%.9g", n)
end

-- encode_state renders a validated state as canonical JSON (the same field
-- names as Go's traffic.State; owner only when set).
local function encode_route(r)
  local bs = {}
  for i, b in ipairs(r.backends) do
    bs[i] = format('{"address":%s,"weight":%d,"platform":%s,"app":%s,"id":%s}',
      json_string(b.address), b.weight, json_string(b.platform), json_string(b.app), json_string(b.id))
  end
  local owner = ""
  if r.owner ~= "" then owner = format('"owner":%s,', json_string(r.owner)) end
  return format('{"name":%s,"host":%s,"pathPrefix":%s,%s"backends":[%s]}',
    json_string(r.name), json_string(r.host), json_string(r.pathPrefix), owner, concat(bs, ","))
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
  for _, p in ipairs(config.backends) do
    if n >= p.first and n <= p.last then return true end
  end
  return false
end

local function allowed_text()
  local t = {}
  for i, p in ipairs(config.backends) do t[i] = p.text end
  return concat(t, ", ")
end

-- trim_prefix drops a trailing "/" (not from "/"): "/a/" and "/a" route alike.
local function trim_prefix(p)
  if #p > 1 and sub(p, -1) == "/" then return sub(p, 1, -2) end
  return p
end

local function is_int(v) return type(v) == "number" and v == floor(v) end
local function opt_string(v) return v == nil or v == ngx.null or type(v) == "string" end
local function str_or_empty(v) if type(v) == "string" then return v end return "" end

-- unknown_field returns the first field of obj not in known (sorted, so the
-- error is stable), or nil.
local function unknown_field(obj, known)
  local bad
  for k in pairs(obj) do
    if not known[k] and (bad == nil or k < bad) then bad = k end
  end
  return bad
end

local STATE_FIELDS = { version = true, routes = true }
local ROUTE_FIELDS = { name = true, host = true, pathPrefix = true, owner = true, backends = true }
local BACKEND_FIELDS = { address = true, weight = true, platform = true, app = true, id = true }

-- check_route validates a decoded route and returns a normalized copy.
local function check_route(r, where)
  if not is_object(r) then return nil, where .. ": must be an object" end
  local unknown = unknown_field(r, ROUTE_FIELDS)
  if unknown then return nil, where .. "." .. unknown .. ": unknown field" end
  if type(r.name) ~= "string" or r.name == "" or not r.name:match("^[%w%._%-/]+$") then
    return nil, where .. ".name: must be a non-empty string of letters, digits, '.', '_', '-', '/'"
  end
  if not opt_string(r.host) then return nil, where .. ".host: must be a string" end
  if not opt_string(r.pathPrefix) then return nil, where .. ".pathPrefix: must be a string" end
  if not opt_string(r.owner) then return nil, where .. ".owner: must be a string" end
  local owner = str_or_empty(r.owner)
  if #owner > MAX_OWNER or not owner:match("^[%w%._/:%-]*$") then
    return nil, format("%s.owner: must be at most %d characters of letters, digits, '.', '_', '/', ':', '-'", where, MAX_OWNER)
  end
  local prefix = str_or_empty(r.pathPrefix)
  if prefix == "" then prefix = "/" end
  if sub(prefix, 1, 1) ~= "/" then return nil, where .. ".pathPrefix: must start with '/'" end
  local host = str_or_empty(r.host)
  if host ~= host:lower() or find(host, "[:/ ]") then
    return nil, where .. ".host: " .. json_string(host) .. " must be a lowercase host name without port"
  end
  local out = { name = r.name, host = host, pathPrefix = prefix, owner = owner, backends = {} }
  local bs = r.backends
  if bs == nil or bs == ngx.null then bs = setmetatable({}, array_mt) end
  if not is_array(bs) then return nil, where .. ".backends: must be an array" end
  if #bs > MAX_BACKENDS then
    return nil, format("%s.backends: %d backends, at most %d per route", where, #bs, MAX_BACKENDS)
  end
  local seen = {}
  for i, b in ipairs(bs) do
    local w = format("%s.backends[%d]", where, i - 1)
    if not is_object(b) then return nil, w .. ": must be an object" end
    unknown = unknown_field(b, BACKEND_FIELDS)
    if unknown then return nil, w .. "." .. unknown .. ": unknown field" end
    if type(b.address) ~= "string" then return nil, w .. ".address: must be a string IPv4:port" end
    local ip, port = b.address:match("^([%d%.]+):(%d+)$")
    local n = ip and parse_ipv4(ip)
    port = tonumber(port)
    if not n or not port or port < 1 or port > 65535 then
      return nil, w .. ".address: " .. b.address .. " must be IPv4:port"
    end
    if not address_allowed(n) then
      return nil, w .. ".address: " .. b.address .. " is not in the backends networks (" .. allowed_text() .. ")"
    end
    if seen[b.address] then return nil, w .. ".address: " .. b.address .. " is listed twice" end
    seen[b.address] = true
    if not is_int(b.weight) or b.weight < 0 or b.weight > MAX_WEIGHT then
      return nil, format("%s.weight: must be an integer between 0 and %d", w, MAX_WEIGHT)
    end
    if b.platform ~= "marathon" and b.platform ~= "kubernetes" then
      return nil, w .. ".platform: must be \"marathon\" or \"kubernetes\""
    end
    if not opt_string(b.app) then return nil, w .. ".app: must be a string" end
    if not opt_string(b.id) then return nil, w .. ".id: must be a string" end
    out.backends[i] = { address = b.address, host = ip, port = port, weight = b.weight,
      platform = b.platform, app = str_or_empty(b.app), id = str_or_empty(b.id) }
  end
  return out
end

local function check_state(st)
  if not is_object(st) then return nil, "state: must be an object" end
  local unknown = unknown_field(st, STATE_FIELDS)
  if unknown then return nil, unknown .. ": unknown field" end
  if not is_int(st.version) or st.version < 0 or st.version > MAX_VERSION then
    return nil, format("version: must be an integer between 0 and %d", MAX_VERSION)
  end
  local rs = st.routes
  if rs == nil or rs == ngx.null then rs = setmetatable({}, array_mt) end
  if not is_array(rs) then return nil, "routes: must be an array" end
  if #rs > MAX_ROUTES then return nil, format("routes: %d routes, at most %d", #rs, MAX_ROUTES) end
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

-- routes_array turns a validated state's routes back into the decoded form
-- check_state takes (for read-modify-write of one route).
local function as_input(r)
  local bs = setmetatable({}, array_mt)
  for i, b in ipairs(r.backends) do
    bs[i] = { address = b.address, weight = b.weight, platform = b.platform, app = b.app, id = b.id }
  end
  return { name = r.name, host = r.host, pathPrefix = r.pathPrefix, owner = r.owner, backends = bs }
end

---------------------------------------------------------------------------
-- Per-worker statistics tables (flushed to the shared dict further below)
---------------------------------------------------------------------------

-- counts[route][platform] = { requests, errors5xx, sumSeconds, bucket1..N }
-- (deltas since the last flush). A series table, once created, stays for the
-- worker's life (the flush zeroes it in place), so the compiled routing
-- table can hold direct references to the series its peers count into.
local counts = {}

local function new_series()
  local s = { 0, 0, 0 }
  for i = 1, NBUCKETS do s[3 + i] = 0 end
  return s
end

-- series_for returns this worker's series of a route and platform.
local function series_for(route, platform)
  local byp = counts[route]
  if not byp then
    byp = {}
    counts[route] = byp
  end
  local s = byp[platform]
  if not s then
    s = new_series()
    s.route = route -- the route a retry of a request counted here belongs to
    byp[platform] = s
  end
  return s
end

-- The series of requests that matched no route.
local NO_ROUTE_SERIES = series_for("", "none")

---------------------------------------------------------------------------
-- Per-worker compiled routing table
---------------------------------------------------------------------------

-- peer_value is a request's $sy_peer: "REJECT ROUTE PLATFORM APP", one
-- space between fields (REJECT is "-", "404" or "503"; route names and
-- platforms have no spaces, the app comes last). It is the one variable the
-- balancer writes; the maps of switchyard-http.conf derive $sy_reject,
-- $sy_route, $sy_platform and $sy_app from it only when something (a log
-- format, @switchyard_reject) reads them. Built once per backend when the
-- table is compiled, not per request.
local function peer_value(reject, route, platform, app)
  return reject .. " " .. route .. " " .. platform .. " " .. app
end
local NO_ROUTE_PEER = peer_value("404", "-", "", "")

local compiled = { version = -1, by_host = {}, any = {}, by_name = {}, count = 0 }
-- previous is the table before the last recompile: a request routed just
-- before a change still finds its route there in the balancer.
local previous = compiled

local function compile(st, old)
  local c = { version = st.version, by_host = {}, any = {}, by_name = {}, count = #st.routes,
    has_hosts = false, needs_path = false }
  for _, r in ipairs(st.routes) do
    local live = 0
    local peers = {}
    local before = {}
    local oldr = old and old.by_name[r.name]
    for _, p in ipairs(oldr and oldr.peers or {}) do before[p.address] = p.down_until end
    for i, b in ipairs(r.backends) do
      peers[i] = { address = b.address, host = b.host, port = b.port, weight = b.weight,
        platform = b.platform, app = b.app, cw = 0, down_until = before[b.address] or 0,
        series = series_for(r.name, b.platform), peer = peer_value("-", r.name, b.platform, b.app) }
      if b.weight > 0 then live = live + 1 end
    end
    local cr = { name = r.name, prefix = trim_prefix(r.pathPrefix), peers = peers, live = live,
      none_series = series_for(r.name, "none"), empty_peer = peer_value("503", r.name, "", "") }
    if cr.prefix ~= "/" then c.needs_path = true end
    if r.host ~= "" then c.has_hosts = true end
    -- A pool with one live backend needs no round robin.
    if live == 1 then
      for _, p in ipairs(peers) do if p.weight > 0 then cr.only = p end end
    end
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

local version_cell_ref -- set by init (store and version_cell are defined further below)

local function refresh()
  local cell = version_cell_ref
  local v
  if cell then v = cell[0] else v = shared:get("version") end
  if v == nil or v == compiled.version then return compiled end
  local raw = shared:get("state")
  local st, err = json_decode(raw or EMPTY_STATE)
  if not st then
    ngx.log(ngx.ERR, "switchyard: stored state is unreadable: ", err)
    return compiled
  end
  st, err = check_state(st)
  if not st then
    ngx.log(ngx.ERR, "switchyard: stored state is invalid: ", err)
    return compiled
  end
  previous = compiled
  compiled = compile(st, compiled)
  return compiled
end

local function prefix_matches(prefix, path)
  if prefix == "/" then return true end
  if sub(path, 1, #prefix) ~= prefix then return false end
  local nextc = byte(path, #prefix + 1)
  return nextc == nil or nextc == 47 -- "/"
end

-- match finds the route of a request; it reads $host and $uri only when
-- some route needs them (nginx variables cost a lookup and a string each).
local function match(c, var)
  local path = c.needs_path and var.uri or "/"
  local list = c.has_hosts and c.by_host[var.host or ""]
  if list then
    for i = 1, #list do
      local r = list[i]
      if prefix_matches(r.prefix, path) then return r end
    end
  end
  list = c.any
  for i = 1, #list do
    local r = list[i]
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
  local peers = route.peers
  for i = 1, #peers do
    local p = peers[i]
    if p.weight > 0 and not (tried and tried[p.address]) and (now == nil or p.down_until <= now) then
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
-- Durable state file (LuaJIT FFI: fsync is not reachable from Lua's io)
---------------------------------------------------------------------------

for _, decl in ipairs({
  "void *fopen(const char *path, const char *mode);",
  "size_t fwrite(const void *ptr, size_t size, size_t n, void *fp);",
  "int fflush(void *fp);",
  "int fileno(void *fp);",
  "int fsync(int fd);",
  "int fclose(void *fp);",
  "int open(const char *path, int flags, ...);",
  "int close(int fd);",
  "char *strerror(int errnum);",
  "void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset);",
}) do
  pcall(ffi.cdef, decl) -- already declared (by another module) is fine
end
local C = ffi.C

local function errno_text()
  local e = ffi.errno()
  return ffi.string(C.strerror(e))
end

-- fsync_dir makes a rename in dir durable.
local function fsync_dir(dir)
  local fd = C.open(dir, 0) -- O_RDONLY
  if fd < 0 then return nil, "open directory " .. dir .. ": " .. errno_text() end
  local rc = C.fsync(fd)
  local err = rc ~= 0 and errno_text()
  C.close(fd)
  if err then return nil, "fsync directory " .. dir .. ": " .. err end
  return true
end

-- write_durable replaces path with data: temp file, fsync, rename, fsync of
-- the directory. Callers hold the admin lock (one writer at a time).
local function write_durable(path, dir, data)
  local tmp = path .. ".tmp"
  local fp = C.fopen(tmp, "w")
  if fp == nil then return nil, "create " .. tmp .. ": " .. errno_text() end
  local err
  if tonumber(C.fwrite(data, 1, #data, fp)) ~= #data or C.fflush(fp) ~= 0 then
    err = "write " .. tmp .. ": " .. errno_text()
  elseif C.fsync(C.fileno(fp)) ~= 0 then
    err = "fsync " .. tmp .. ": " .. errno_text()
  end
  if C.fclose(fp) ~= 0 and not err then err = "close " .. tmp .. ": " .. errno_text() end
  if err then
    os.remove(tmp)
    return nil, err
  end
  local ok, rerr = os.rename(tmp, path)
  if not ok then
    os.remove(tmp)
    return nil, "rename " .. tmp .. ": " .. tostring(rerr)
  end
  return fsync_dir(dir)
end

---------------------------------------------------------------------------
-- State storage
---------------------------------------------------------------------------

-- version_cell is the active version in a memory page the master maps
-- (shared, anonymous) before it forks the workers: every request compares it
-- with its worker's compiled version (one memory read instead of a
-- shared-dict lookup); store() updates it after the shared dict. A reload
-- maps a new page for the new workers (init stores the state again).
local version_cell

local function map_version_cell()
  -- PROT_READ|PROT_WRITE, MAP_SHARED|MAP_ANONYMOUS (Linux)
  local p = C.mmap(nil, 8, 3, 0x21, -1, 0)
  if p == nil or p == ffi.cast("void *", -1) then return nil, errno_text() end
  return ffi.cast("double *", p)
end

local function store(st)
  local raw = encode_state(st)
  local ok, err = shared:set("state", raw)
  if not ok then return nil, "shared dict: " .. tostring(err) end
  ok, err = shared:set("version", st.version)
  if not ok then return nil, "shared dict: " .. tostring(err) end
  if version_cell then version_cell[0] = st.version end
  return raw
end

local function current_state()
  local raw = shared:get("state") or EMPTY_STATE
  local st, err = json_decode(raw)
  if not st then return nil, err end
  return check_state(st)
end

---------------------------------------------------------------------------
-- Statistics: per-worker tables, flushed to the shared dict
---------------------------------------------------------------------------

local STATS_PREFIX = "stats\t"
local STATS_LOCK = "stats-lock"

-- count adds one request to a series of this worker's tables.
local function count(s, status, seconds)
  s[1] = s[1] + 1
  if status >= 500 and status <= 599 then s[2] = s[2] + 1 end
  if seconds < 0 then seconds = 0 end
  s[3] = s[3] + seconds
  local i = 1
  while i <= NBOUNDS and seconds > BOUNDS[i] do i = i + 1 end
  s[3 + i] = s[3 + i] + 1
end

local function pack(s)
  local t = {}
  for i = 1, 3 + NBUCKETS do t[i] = json_number(s[i]) end
  return concat(t, " ")
end

local function unpack_series(raw)
  local s = new_series()
  local i = 0
  for f in raw:gmatch("%S+") do
    i = i + 1
    s[i] = tonumber(f) or 0
  end
  return s
end

-- flush adds this worker's counts to the shared dict (one short lock per
-- flush; counts stay in the worker when the lock is busy).
local function flush(premature)
  local pending = false
  for _, byp in pairs(counts) do
    for _, s in pairs(byp) do
      if s[1] > 0 then pending = true break end
    end
    if pending then break end
  end
  if not pending then return end
  local locked = false
  for _ = 1, (premature and 1 or 50) do
    if shared:safe_add(STATS_LOCK, true, 5) then locked = true break end
    if premature then break end
    ngx.sleep(0.002)
  end
  if not locked then return end
  for route, byp in pairs(counts) do
    for platform, s in pairs(byp) do
      if s[1] > 0 then
        local key = STATS_PREFIX .. route .. "\t" .. platform
        local old = shared:get(key)
        local total = old and unpack_series(old) or new_series()
        for i = 1, 3 + NBUCKETS do total[i] = total[i] + s[i] end
        local ok, err = shared:safe_set(key, pack(total))
        if ok then
          for i = 1, 3 + NBUCKETS do s[i] = 0 end
        else
          ngx.log(ngx.WARN, "switchyard: statistics of route ", route, " not stored: ", err)
        end
      end
    end
  end
  shared:delete(STATS_LOCK)
end

-- series returns the shared statistics sorted by route and platform.
local function series()
  local out = {}
  for _, key in ipairs(shared:get_keys(0)) do
    if sub(key, 1, #STATS_PREFIX) == STATS_PREFIX then
      local route, platform = key:match("^stats\t(.*)\t([^\t]*)$")
      local raw = shared:get(key)
      if route and raw then
        out[#out + 1] = { route = route, platform = platform, v = unpack_series(raw) }
      end
    end
  end
  table.sort(out, function(a, b)
    if a.route ~= b.route then return a.route < b.route end
    return a.platform < b.platform
  end)
  return out
end

local function stats_json()
  local bounds = {}
  for i, b in ipairs(BOUNDS) do bounds[i] = json_number(b) end
  local ss = {}
  for i, s in ipairs(series()) do
    local v = s.v
    local buckets = {}
    for j = 1, NBUCKETS do buckets[j] = json_number(v[3 + j]) end
    ss[i] = format('{"route":%s,"platform":%s,"requests":%s,"errors5xx":%s,"sumSeconds":%s,"buckets":[%s]}',
      json_string(s.route), json_string(s.platform), json_number(v[1]), json_number(v[2]),
      json_number(v[3]), concat(buckets, ","))
  end
  return format('{"instance":%s,"version":%d,"bounds":[%s],"series":[%s]}',
    json_string(shared:get("instance") or ""), shared:get("version") or 0, concat(bounds, ","), concat(ss, ","))
end

-- prom_label escapes a Prometheus label value.
local function prom_label(s)
  return (s:gsub('[\\"\n]', { ['\\'] = '\\\\', ['"'] = '\\"', ['\n'] = '\\n' }))
end

local function metrics_text()
  local ss = series()
  local out = {}
  local function add(s) out[#out + 1] = s end
  local labels = {}
  for i, s in ipairs(ss) do
    labels[i] = format('route="%s",platform="%s"', prom_label(s.route), prom_label(s.platform))
  end
  add("# HELP switchyard_lb_requests_total Requests per route and platform (platform \"none\": no backend).")
  add("# TYPE switchyard_lb_requests_total counter")
  for i, s in ipairs(ss) do add(format("switchyard_lb_requests_total{%s} %s", labels[i], json_number(s.v[1]))) end
  add("# HELP switchyard_lb_responses_5xx_total Responses with a 5xx status per route and platform.")
  add("# TYPE switchyard_lb_responses_5xx_total counter")
  for i, s in ipairs(ss) do add(format("switchyard_lb_responses_5xx_total{%s} %s", labels[i], json_number(s.v[2]))) end
  add("# HELP switchyard_lb_request_duration_seconds Request time ($request_time) per route and platform.")
  add("# TYPE switchyard_lb_request_duration_seconds histogram")
  for i, s in ipairs(ss) do
    local cum = 0
    for j = 1, NBUCKETS do
      cum = cum + s.v[3 + j]
      local le = j <= NBOUNDS and json_number(BOUNDS[j]) or "+Inf"
      add(format('switchyard_lb_request_duration_seconds_bucket{%s,le="%s"} %s', labels[i], le, json_number(cum)))
    end
    add(format("switchyard_lb_request_duration_seconds_sum{%s} %s", labels[i], json_number(s.v[3])))
    add(format("switchyard_lb_request_duration_seconds_count{%s} %s", labels[i], json_number(cum)))
  end
  add("# HELP switchyard_lb_routing_state_version Version of the active routing state.")
  add("# TYPE switchyard_lb_routing_state_version gauge")
  add(format("switchyard_lb_routing_state_version %d", shared:get("version") or 0))
  add("# HELP switchyard_lb_instance_info Random id of this nginx instance (changes when nginx restarts).")
  add("# TYPE switchyard_lb_instance_info gauge")
  add(format('switchyard_lb_instance_info{instance="%s"} 1', prom_label(shared:get("instance") or "")))
  return concat(out, "\n") .. "\n"
end

---------------------------------------------------------------------------
-- Phases
---------------------------------------------------------------------------

local function init_error(msg) error("switchyard: " .. msg, 0) end

local function read_token(path)
  local f, err = io.open(path, "rb")
  if not f then
    -- err names the file already
    init_error("admin token file: " .. tostring(err) .. " (create it with a random token, readable by nginx's master process)")
  end
  local raw = f:read("*a")
  f:close()
  local token = raw and raw:match("^%s*(.-)%s*$") or ""
  if token == "" then init_error("admin token file " .. path .. " is empty (write a random token into it)") end
  if find(token, "%s") then init_error("admin token file " .. path .. " holds more than one word (write one token)") end
  return token
end

local function random_id()
  local f = io.open("/dev/urandom", "rb")
  local raw = f and f:read(8)
  if f then f:close() end
  if not raw or #raw ~= 8 then
    math.randomseed(ngx.now() * 1000 + ngx.worker.pid())
    raw = ""
    for _ = 1, 8 do raw = raw .. char(math.random(0, 255)) end
  end
  return (raw:gsub(".", function(c) return format("%02x", byte(c)) end))
end

-- load_state_file reads <state dir>/routes.json: a missing file is the empty
-- state, anything else that is not a valid state is an error.
local function load_state_file(path)
  local f, err, code = io.open(path, "rb")
  if not f then
    if code == 2 then return { version = 0, routes = {} } end -- ENOENT
    init_error("routing state: " .. tostring(err)) -- err names the file
  end
  local raw, rerr = f:read("*a")
  f:close()
  if not raw then init_error("routing state " .. path .. ": " .. tostring(rerr)) end
  local hint = " (fix the file, or remove it to start with no routes)"
  if not raw:match("%S") then init_error("routing state " .. path .. " is empty" .. hint) end
  local decoded, derr = json_decode(raw)
  if not decoded then init_error("routing state " .. path .. ": " .. derr .. hint) end
  local st, verr = check_state(decoded)
  if not st then init_error("routing state " .. path .. ": " .. verr .. hint) end
  return st
end

-- init runs in init_by_lua (master, and `nginx -t`): it reads the admin
-- token and loads the routing state, so that a restarted nginx routes
-- exactly as before. Any problem stops nginx with a message naming the file.
function _M.init(opts)
  config.token_file = opts.token_file
  config.state_dir = opts.state_dir
  config.state_file = opts.state_dir .. "/routes.json"
  config.backends = {}
  for _, cidr in ipairs(opts.backends or {}) do
    local p = parse_cidr(cidr)
    if not p then init_error("backends network " .. cidr .. " is not an IPv4 CIDR") end
    config.backends[#config.backends + 1] = p
  end
  if #config.backends == 0 then init_error("no backends network configured") end
  config.token = read_token(opts.token_file)
  local fd = C.open(config.state_dir, 0)
  if fd < 0 then
    init_error("state directory " .. config.state_dir .. ": " .. errno_text() ..
      " (create it, writable by nginx's worker user)")
  end
  C.close(fd)
  local cell, merr = map_version_cell()
  if not cell then init_error("shared version page: mmap: " .. merr) end
  version_cell, version_cell_ref = cell, cell
  local st = load_state_file(config.state_file)
  local _, err = store(st)
  if err then init_error(err) end
  -- A reload (SIGHUP) keeps the shared dict: the same instance goes on.
  if not shared:get("instance") then
    local ok, serr = shared:set("instance", random_id())
    if not ok then init_error("shared dict: " .. tostring(serr)) end
  end
end

-- init_worker runs in init_worker_by_lua: it starts the statistics flush.
function _M.init_worker()
  local ok, err = ngx.timer.every(FLUSH_INTERVAL, flush)
  if not ok then ngx.log(ngx.ERR, "switchyard: statistics timer: ", err) end
end

-- The phases pass nothing through ngx.ctx (creating it costs more than the
-- rest of the routing): the balancer leaves the series the request counts
-- into (it names the route) in `pending`, keyed by the request's address,
-- for a retry and for the log phase, so that neither reads an nginx
-- variable; a retry finds the backends already tried in $upstream_addr.
-- The one variable written, $sy_peer, is for logs and @switchyard_reject. Every request the balancer
-- saw reaches this log phase (the routing location's only internal redirect
-- is to @switchyard_reject, which logs the same way; its error_page keeps
-- the server's error pages out), so entries do not outlive their request.

local get_request = require("resty.core.base").get_request
local cast, intptr_t = ffi.cast, ffi.typeof("intptr_t")
local pending = {}

-- request_key is the request's address as a number (get_request returns a
-- lightuserdata, or a fresh cdata pointer in compiled code: neither is a
-- stable table key).
local function request_key()
  return tonumber(cast(intptr_t, get_request()))
end
local balancer = require "ngx.balancer"
local set_current_peer, set_more_tries = balancer.set_current_peer, balancer.set_more_tries
local get_last_failure = balancer.get_last_failure
local exit, ERROR = ngx.exit, ngx.ERROR

-- tried_addresses returns the set of backends this request already tried
-- (from $upstream_addr, "a:1, b:2"), for retries.
local function tried_addresses(var)
  local tried = {}
  for a in (var.upstream_addr or ""):gmatch("[%d%.]+:%d+") do tried[a] = true end
  return tried
end

-- balance runs in balancer_by_lua for the first try and each retry. The
-- first try routes the request (there is no rewrite-phase Lua): it finds the
-- route by Host and longest path prefix and sets $sy_route. A request with
-- nowhere to go gets $sy_reject "404" (no route) or "503" (no backend with
-- weight > 0) and the balancer fails: the location's error_page answers it.
function _M.balance()
  local var = ngx.var
  local retry = get_last_failure()
  local r, p
  if not retry then
    r = match(refresh(), var)
    if not r then
      pending[request_key()] = NO_ROUTE_SERIES
      var.sy_peer = NO_ROUTE_PEER
      return exit(ERROR)
    end
    p = r.only
    if not p then
      local live = r.live
      if live == 0 then
        pending[request_key()] = r.none_series
        var.sy_peer = r.empty_peer
        return exit(ERROR)
      end
      set_more_tries(live - 1)
      p = pick(r, nil)
    end
  else
    -- A retry: the tries so far failed; take the newest table (weights may
    -- have changed since), avoid those backends for a while and pick among
    -- the others.
    local s = pending[request_key()]
    local name = s and s.route
    local c = refresh()
    r = c.by_name[name] or previous.by_name[name]
    if not r then
      ngx.log(ngx.ERR, "switchyard: route ", name, " vanished while the request was routed")
      return exit(ERROR)
    end
    local tried = tried_addresses(var)
    local until_ = ngx.now() + FAIL_TIMEOUT
    for _, peer in ipairs(r.peers) do
      if tried[peer.address] then peer.down_until = until_ end
    end
    p = pick(r, tried)
  end
  if not p then
    -- Only when the pool shrank between tries.
    ngx.log(ngx.ERR, "switchyard: route ", r.name, ": no untried backend left for this request")
    return exit(ERROR)
  end
  pending[request_key()] = p.series
  var.sy_peer = p.peer
  local ok, err = set_current_peer(p.host, p.port)
  if not ok then
    ngx.log(ngx.ERR, "switchyard: set peer ", p.address, ": ", err)
    return exit(ERROR)
  end
end

local now, start_time = ngx.now, ngx.req.start_time

-- log runs in log_by_lua of the routing location: it counts the request
-- into the series the balancer chose (the platform of the last try). A
-- request that never reached the balancer (e.g. its body could not be read)
-- is routed here to find its route (platform "none").
function _M.log()
  local req = request_key()
  local s = pending[req]
  if s then
    pending[req] = nil
  else
    local r = match(compiled, ngx.var)
    s = r and r.none_series or NO_ROUTE_SERIES
  end
  count(s, ngx.status, now() - start_time())
end

---------------------------------------------------------------------------
-- Admin API (token required, but for GET /healthz)
---------------------------------------------------------------------------

local function respond(status, body, ctype)
  ngx.status = status
  ngx.header["Content-Type"] = ctype or "application/json"
  ngx.print(body)
  if sub(body, -1) ~= "\n" then ngx.print("\n") end
  return ngx.exit(ngx.HTTP_OK)
end

local function error_body(msg) return format('{"error":%s}', json_string(msg)) end

-- equal_secret compares a presented token with the configured one in a time
-- that depends only on the configured token's length.
local function equal_secret(given, want)
  local diff = (#given == #want) and 0 or 1
  for i = 1, #want do
    diff = bit.bor(diff, bit.bxor(byte(given, i) or 0, byte(want, i)))
  end
  return diff == 0
end

-- authorized answers 401 unless the request carries the bearer token.
local function authorized()
  local h = ngx.var.http_authorization
  local given = h and h:match("^%s*[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
  if given and config.token and equal_secret(given, config.token) then return true end
  ngx.header["WWW-Authenticate"] = 'Bearer realm="switchyard"'
  local msg = "missing bearer token: send Authorization: Bearer <the token in the admin token file>"
  if given then msg = "wrong bearer token (see the admin token file nginx was started with)" end
  respond(401, error_body(msg))
  return false
end

-- auth guards locations of the admin server that Lua does not answer
-- (stub_status), in their access phase.
function _M.auth()
  authorized()
end

local function read_body()
  ngx.req.read_body()
  local data = ngx.req.get_body_data()
  if data then return data end
  local file = ngx.req.get_body_file()
  if not file then return "" end
  local f = io.open(file, "rb")
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

-- commit persists then stores a new state; it returns the stored JSON.
local function commit(st)
  local raw = encode_state(st)
  local ok, err = write_durable(config.state_file, config.state_dir, raw .. "\n")
  if not ok then
    return nil, 500, "state not applied: " .. err .. " (the state directory must be writable by nginx's worker user)"
  end
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
  if is_object(decoded) and (decoded.name == nil or decoded.name == ngx.null) then decoded.name = name end
  if not is_object(decoded) or decoded.name ~= name then
    return nil, 400, format("name: the route name in the body must match the path (%q)", name)
  end
  return with_lock(function()
    local st, serr = current_state()
    if not st then return nil, 500, "active state unreadable: " .. serr end
    local routes, replaced = setmetatable({}, array_mt), false
    for _, r in ipairs(st.routes) do
      if r.name == name then
        routes[#routes + 1] = decoded
        replaced = true
      else
        routes[#routes + 1] = as_input(r)
      end
    end
    if not replaced then routes[#routes + 1] = decoded end
    local want = tonumber(ngx.var.arg_version)
    if want and want ~= st.version then
      return nil, 409, format("active version is %d, not %d", st.version, want)
    end
    if st.version >= MAX_VERSION then
      return nil, 409, format("version: the active version %d is the largest possible", st.version)
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
    if st.version >= MAX_VERSION then
      return nil, 409, format("version: the active version %d is the largest possible", st.version)
    end
    return commit({ version = st.version + 1, routes = routes })
  end)
end

-- admin is the content handler of the admin server.
function _M.admin()
  local method, uri = ngx.req.get_method(), ngx.var.uri
  if uri == "/healthz" and method == "GET" then
    local c = refresh()
    return respond(200, format('{"status":"ok","version":%d,"routes":%d,"instance":%s}',
      c.version, c.count, json_string(shared:get("instance") or "")))
  end
  if not authorized() then return end
  if uri == "/healthz" then
    ngx.header["Allow"] = "GET"
    return respond(405, error_body("method not allowed"))
  end
  if uri == "/stats" or uri == "/metrics" then
    if method ~= "GET" then
      ngx.header["Allow"] = "GET"
      return respond(405, error_body("method not allowed"))
    end
    if uri == "/stats" then return respond(200, stats_json()) end
    return respond(200, metrics_text(), "text/plain; version=0.0.4; charset=utf-8")
  end
  if uri == "/routes" then
    if method == "GET" then return respond(200, shared:get("state") or EMPTY_STATE) end
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
  return respond(404, error_body("unknown admin path " .. uri ..
    " (try /routes, /routes/NAME, /healthz, /stats, /metrics, /stub_status)"))
end

return _M
