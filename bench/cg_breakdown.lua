-- Where one request's instructions go, from two callgrind runs of the same
-- client that differ only in their number of requests (bench/run.sh with
-- BENCH_CG_DIR keeps them): every figure is (big - small) / n, so start-up
-- and warm-up cancel out.
--   lua5.4 bench/cg_breakdown.lua SMALL.callgrind BIG.callgrind N [BASE_SMALL BASE_BIG]
-- Prints two Markdown tables: exclusive cost by part (they add up to the
-- total), and the inclusive cost of the entry points that bound each part;
-- with a base pair (another build's files, same N), also the difference to it.
local small, big, n, base_small, base_big = arg[1], arg[2], tonumber(arg[3]), arg[4], arg[5]
assert(small and big and n, "usage: cg_breakdown.lua SMALL BIG N [BASE_SMALL BASE_BIG]")

-- function -> { excl =, incl = } from callgrind_annotate's listing; a name
-- listed twice (callgrind_annotate splits a function by the file it knows
-- for it) keeps the larger inclusive and the sum of the exclusive counts
local function annotate(file, inclusive)
  local p = assert(io.popen(("callgrind_annotate --auto=no --threshold=100 --inclusive=%s %q 2>/dev/null")
    :format(inclusive and "yes" or "no", file)))
  local out, total = {}, nil
  for line in p:lines() do
    local count, rest = line:match("^%s*([%d,]+) %(%s*[%d.]+%%%)%s+(.*)$")
    if count then
      count = tonumber((count:gsub(",", "")))
      if rest == "PROGRAM TOTALS" then
        total = count
      else
        local where, object = rest:match("^(.-) %[(.*)%]$")
        where = where or rest
        local fn = where:match(":([^:]+)$") or where
        fn = fn:gsub("'%d+$", "")             -- callgrind's recursion levels
        out[#out + 1] = { fn = fn, where = where, object = object or "", count = count }
      end
    end
  end
  p:close()
  -- a piece listed without its object (inlined from another file) is its function's
  local object_of = {}
  for _, r in ipairs(out) do
    if r.object ~= "" then object_of[r.fn] = object_of[r.fn] or r.object end
  end
  for _, r in ipairs(out) do
    if r.object == "" then
      r.object = object_of[r.fn] or (r.where:find("/elf/") and "ld-linux") or
                 (r.where:find("^%./") and "libc.so") or ""
    end
  end
  return out, total
end

local function part_of(r)
  local o, w = r.object:match("[^/]*$"), r.where   -- the file name: paths may say anything
  if o:find("libcurl") then return "libcurl" end
  if o:find("libnghttp2") then return "nghttp2 (HTTP/2, libcurl's)" end
  if o:find("libssl") or o:find("libcrypto") then return "OpenSSL" end
  if o:find("libyajl") then return "JSON decode: yajl" end
  if o:find("cjson") then return "JSON decode: lua-cjson" end
  if o:find("core%.so") then
    if w:find("gc_json") or r.fn:find("^on_") and not r.fn:find("on_header") and
       not r.fn:find("on_body") and not r.fn:find("on_progress") or r.fn == "fill" or
       r.fn == "room" or r.fn == "new_codec" or r.fn == "close_container" then
      return "JSON decode: gc_json.c callbacks"
    end
    if w:find("gc_headers") or r.fn == "push_cached" or r.fn == "push_field" or
       r.fn == "find_slot" or r.fn == "same_field" then
      return "header table: gc_headers.c"
    end
    return "graph.core, other C"
  end
  if o:find("lua5%.4") or o:find("liblua") then return "Lua VM, Lua's C library and GC" end
  if w:find("malloc%.c") or w:find("arena%.c") then return "allocator (glibc malloc/free)" end
  if o:find("libc%.so") then return "libc, other (memcpy, strlen...)" end
  if o:find("ld%-linux") then return "dynamic linker" end
  if o:find("libz") then return "zlib" end
  return "other: " .. o
end

local function per_request(file_small, file_big, inclusive, key)
  local a, ta = annotate(file_small, inclusive)
  local b, tb = annotate(file_big, inclusive)
  local sum = {}
  local function add(rows, sign)
    local seen = {}
    for _, r in ipairs(rows) do
      local k = key(r)
      if inclusive then                       -- the larger of a split name's counts
        if (seen[k] or 0) < r.count then
          sum[k] = (sum[k] or 0) - sign * (seen[k] or 0) + sign * r.count
          seen[k] = r.count
        end
      else
        sum[k] = (sum[k] or 0) + sign * r.count
      end
    end
  end
  add(a, -1)
  add(b, 1)
  for k, v in pairs(sum) do sum[k] = v / n end
  return sum, (tb - ta) / n
end

local function sorted(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) return t[x] > t[y] end)
  return keys
end

local parts, total = per_request(small, big, false, part_of)
local bparts, btotal
if base_small then bparts, btotal = per_request(base_small, base_big, false, part_of) end
local function round(x) return math.floor(x + 0.5) end
local function delta(v, b) return b and ("| %+d "):format(round(v - (b or 0))) or "" end

print(("One request: %d instructions%s.\n"):format(round(total),
  btotal and (" (base: %d, %+d)"):format(round(btotal), round(total - btotal)) or ""))
print("| part (exclusive cost) | instructions/request | share " .. (bparts and "| vs base " or "") .. "|")
print("| --- | ---: | ---: " .. (bparts and "| ---: " or "") .. "|")
for k in pairs(bparts or {}) do parts[k] = parts[k] or 0 end   -- a part only the base has
for _, k in ipairs(sorted(parts)) do
  if math.abs(parts[k]) >= 50 or (bparts and math.abs(bparts[k] or 0) >= 50) then
    print(("| %s | %d | %.1f%% %s|"):format(k, round(parts[k]), 100 * parts[k] / total,
      bparts and delta(parts[k], bparts[k] or 0) or ""))
  end
end

local ENTRY = {
  "session_request", "curl_easy_perform", "curl_multi_perform", "nghttp2_session_mem_recv",
  "nghttp2_session_send", "SSL_read", "SSL_write", "gc_json_decode", "yajl_parse",
  "gc_headers_push", "build_headers", "gc_http_prepare", "gc_http_finish", "gc_http_drop_unread",
  "gc_guid", "on_header", "on_body", "on_progress", "curl_multi_poll", "curl_multi_add_handle",
  "curl_multi_remove_handle", "session_token", "core_escape", "gc_hlist_add", "gc_hlist_add_ref",
  "gc_hlist_link", "gc_hlist_add_line", "curl_easy_setopt", "gc_monotonic", "malloc", "free", "realloc", "calloc", "CRYPTO_malloc",
  "CRYPTO_free",
}
local key = function(r) return r.fn end
local incl = per_request(small, big, true, key)
local bincl = base_small and per_request(base_small, base_big, true, key)
print("\n| entry point (inclusive cost) | instructions/request " .. (bincl and "| vs base " or "") .. "|")
print("| --- | ---: " .. (bincl and "| ---: " or "") .. "|")
for _, k in ipairs(ENTRY) do
  if (incl[k] and math.abs(incl[k]) >= 50) or (bincl and bincl[k] and math.abs(bincl[k]) >= 50) then
    print(("| `%s` | %d %s|"):format(k, round(incl[k] or 0), bincl and delta(incl[k] or 0, bincl[k] or 0) or ""))
  end
end
