--- graph.presence: Teams presence of a user.
local args = require "graph.args"
local bulk = require "graph.bulk"
local check = require "graph.check"
local compat = require "graph.compat"
local core = require "graph.core"
local json = require "graph.json"
local pretty = require "graph.pretty"
local request = require "graph.request"

local M = {}

local GET = { id = "id" }

--- presence.get{ id = USER_ID } -> presence, response
function M.get(client, a)
  a = args.normalize("graph.presence.get", a, GET)
  return request.send(client, "GET", args.user_path(a.id) .. "/presence")
end


local GET_MANY = { ids = "table", concurrency = "concurrency", on_progress = "function" }
local PER_CALL = 650     -- "Maximum of 650 user IDs are supported per API request."

local function missing(id)
  return core.error{ kind = "graph", code = "Request_ResourceNotFound",
    message = ("no presence was returned for '%s'"):format(id) }
end

--- presence.get_many{ ids = {...} } -> array in input order, each the
-- presence table or an error; plus a summary { ok = n, failed = n }.
-- POST /communications/getPresencesByUserId, at most 650 ids a call.
function M.get_many(client, a)
  local fn = "graph.presence.get_many"
  check.table(fn, a, GET_MANY)
  local ids = check.ids(fn, a.ids)
  local requests, chunks = {}, {}
  for first = 1, #ids, PER_CALL do
    local chunk = { compat.unpack(ids, first, math.min(first + PER_CALL - 1, #ids)) }
    chunks[#chunks + 1] = { first = first, ids = chunk }
    requests[#requests + 1] = { method = "POST",
      url = client:url("/communications/getPresencesByUserId"),
      body = json.encode({ ids = chunk }), read_only = true }
  end
  local progress = a.on_progress
  local out = bulk.run(client, requests, { concurrency = a.concurrency or 4, family = "presence",
    on_progress = progress and function(done) progress(math.min(done * PER_CALL, #ids), #ids) end })
  local results, ok = {}, 0
  for c, chunk in ipairs(chunks) do
    local r = out[c]
    local by_id = {}
    if r.doc and type(r.doc.value) == "table" then
      for _, p in ipairs(r.doc.value) do
        if type(p) == "table" and type(p.id) == "string" then by_id[p.id:lower()] = p end
      end
    end
    for k, id in ipairs(chunk.ids) do
      local p = by_id[id:lower()]
      results[chunk.first + k - 1] = p or r.err or missing(id)
      if p then ok = ok + 1 end
    end
  end
  return pretty.document(results), { ok = ok, failed = #ids - ok }
end

return M
