-- bench/loop_report.lua RESULTS.tsv N CONC [OUT.md]
-- The luv loop row of bench/run.sh (issue 12) as a markdown section on
-- stdout: instructions per request of users.get from coroutines on
-- graph.loop.luv against one users.get_many (target at most 1.1x), and the
-- wall-clock figures of one run of each. With OUT.md (the full run) the
-- section also goes into it, after the generated tables and before the part
-- written by hand (bench/report.lua wrote the file just before).
local results_file, n, conc, out_file = arg[1], arg[2], arg[3], arg[4]
local TARGET = 1.1

local instr, runs = {}, {}
for line in io.lines(results_file) do
  local f = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do f[#f + 1] = field end
  if f[1] == "instr" and f[2]:match("^loop%-") then
    instr[f[2]:sub(6)] = tonumber(f[3]) or false
  elseif f[1] == "loop" then
    local r = { failed = f[3] == "fail" }
    for k, v in (f[3] or ""):gmatch("([%w_]+)=(%S+)") do r[k] = tonumber(v) or v end
    runs[f[2]] = r
  end
end

local function thousands(x)
  local s = ("%.0f"):format(x)
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local out = {}
local function put(s) out[#out + 1] = s or "" end
local LABEL = {
  loop = ("`users.get` from %s coroutines, one client on `graph.loop.luv()`"):format(conc),
  many = ("one `users.get_many`, concurrency %s (blocking client)"):format(conc),
}
put("## The luv loop (issue 12)")
put()
put(("%s requests over HTTPS (HTTP/2) to the bench nginx, %s at once. Instructions: each "
  .. "under callgrind with 200 and 200 + %s requests after one round of %s (token, connection); "
  .. "the difference over %s is one request. Then one run of each without valgrind, pinned "
  .. "to the client core; the loop run with a 10 ms luv timer whose worst gap (wall clock) "
  .. "is printed, not asserted."):format(thousands(n), conc, thousands(n), conc, thousands(n)))
put()
put("| client | instructions/request | vs get_many | wall s | CPU µs/request | worst 10 ms timer gap | token requests | blocking waits |")
put("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for _, mode in ipairs{ "loop", "many" } do
  local v, r = instr[mode], runs[mode] or { failed = true }
  local ratio = (v and instr.many) and ("%.3fx"):format(v / instr.many) or "-"
  local iv = v and thousands(v) or (v == false and "FAILED" or "-")
  if r.failed then
    put(("| %s | %s | %s | FAILED | | | | |"):format(LABEL[mode], iv, ratio))
  else
    put(("| %s | %s | %s | %.3f | %.1f | %s | %d | %d |"):format(LABEL[mode], iv, ratio, r.wall,
      r.cpu / r.n * 1e6, r.gap_ms == "-" and "-" or r.gap_ms .. " ms", r.token_requests,
      r.blocking_waits))
  end
end
put()
local verdict = "not measured"
if instr.loop and instr.many then
  local x = instr.loop / instr.many
  verdict = ("%.3fx (%s vs %s): %s"):format(x, thousands(instr.loop), thousands(instr.many),
    x <= TARGET and "PASS" or "MISS")
end
put(("Target: the loop's instructions per request at most %.1fx `users.get_many`'s: %s."):format(
  TARGET, verdict))

local text = table.concat(out, "\n") .. "\n"
io.write(text)
if out_file then
  local fh = assert(io.open(out_file))
  local md = fh:read("a")
  fh:close()
  local at = md:find("<!-- Written by hand below this line", 1, true)
  md = at and md:sub(1, at - 1) .. text .. "\n" .. md:sub(at) or md .. "\n" .. text
  fh = assert(io.open(out_file, "w"))
  fh:write(md)
  fh:close()
end
