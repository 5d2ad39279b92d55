-- graph.presence: the presence.* actions of docs/graph.ldoc.
-- Graph's presence routes take object ids only ("You must pass the user's
-- ID"): a userPrincipalName is first looked up (GET /users/{upn}?$select=id),
-- once per client.
local args = require "graph.args"
local bulk = require "graph.bulk"
local check = require "graph.check"
local compat = require "graph.compat"
local graph_errors = require "graph.errors"
local json = require "graph.json"
local pretty = require "graph.pretty"
local request = require "graph.request"

local M = {}

local GUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

local function is_object_id(id) return id:find(GUID) ~= nil end

-- userPrincipalName (lower case) -> object id, kept on the client.
local function known_ids(client)
  local cache = rawget(client, "presence_object_ids")
  if not cache then
    cache = {}
    rawset(client, "presence_object_ids", cache)
  end
  return cache
end

local function lookup_url(client, upn)
  return client:url(args.user_path(upn), "$select=id")
end

-- The object id a users lookup answered with, or nil, err.
local function object_id_of(upn, doc)
  local id = type(doc) == "table" and doc.id
  if type(id) == "string" and is_object_id(id) then return id end
  return nil, graph_errors.new{ kind = "decode", code = "invalid_response",
    message = ("the lookup of '%s' returned no object id"):format(upn) }
end

-- The object id for `id` (itself when it is one), or nil, err.
local function resolve(client, id)
  if is_object_id(id) then return id end
  local cache = known_ids(client)
  local key = id:lower()
  if cache[key] then return cache[key] end
  local doc, response = client:fetch("GET", lookup_url(client, id))
  if not doc then return nil, response end
  local oid, err = object_id_of(id, doc)
  if not oid then return nil, err end
  cache[key] = oid
  return oid
end

local GET = { id = "id" }

-- presence.get
function M.get(client, a)
  a = args.normalize("graph.presence.get", a, GET)
  local id, err = resolve(client, a.id)
  if not id then return nil, err end
  return request.send(client, "GET", args.user_path(id) .. "/presence")
end


local GET_MANY = { ids = "table", concurrency = "concurrency", on_progress = "function" }
local PER_CALL = 650     -- "Maximum of 650 user IDs are supported per API request."

local function missing(id)
  return graph_errors.new{ kind = "graph", code = "Request_ResourceNotFound",
    message = ("no presence was returned for '%s'"):format(id) }
end

-- The object id of every input (nil where it did not resolve) and the
-- errors of those, by input index. Unknown UPNs are looked up in one bulk step.
local function resolve_all(client, ids, concurrency)
  local cache, object_ids, errors = known_ids(client), {}, {}
  local lookups, names, queued = {}, {}, {}
  for _, id in ipairs(ids) do
    local key = id:lower()
    if not is_object_id(id) and not cache[key] and not queued[key] then
      queued[key] = true
      names[#lookups + 1] = id
      lookups[#lookups + 1] = { method = "GET", url = lookup_url(client, id) }
    end
  end
  local failed = {}
  if #lookups > 0 then
    local out = bulk.run(client, lookups, { concurrency = concurrency, family = "directory" })
    for k, r in ipairs(out) do
      local oid, err
      if r.doc then oid, err = object_id_of(names[k], r.doc) else err = r.err end
      if oid then cache[names[k]:lower()] = oid else failed[names[k]:lower()] = err end
    end
  end
  for i, id in ipairs(ids) do
    local key = id:lower()
    object_ids[i] = is_object_id(id) and id or cache[key]
    if not object_ids[i] then errors[i] = failed[key] end
  end
  return object_ids, errors
end

-- presence.get_many: a UPN that does not resolve is that item's error.
function M.get_many(client, a)
  local fn = "graph.presence.get_many"
  check.table(fn, a, GET_MANY)
  local ids = check.ids(fn, a.ids)
  local object_ids, errors = resolve_all(client, ids, a.concurrency or 4)
  local sendable, chunk_of = {}, {}         -- resolved ids in input order; input -> its call
  for i = 1, #ids do
    if object_ids[i] then
      sendable[#sendable + 1] = object_ids[i]
      chunk_of[i] = math.floor((#sendable - 1) / PER_CALL) + 1
    end
  end
  local requests = {}
  for first = 1, #sendable, PER_CALL do
    local chunk = { compat.unpack(sendable, first, math.min(first + PER_CALL - 1, #sendable)) }
    requests[#requests + 1] = { method = "POST",
      url = client:url("/communications/getPresencesByUserId"),
      body = json.encode({ ids = chunk }), read_only = true }
  end
  local progress = a.on_progress
  local out = bulk.run(client, requests, { concurrency = a.concurrency or 4, family = "presence",
    on_progress = progress and function(done) progress(math.min(done * PER_CALL, #ids), #ids) end })
  local found = {}
  for _, r in ipairs(out) do
    if r.doc and type(r.doc.value) == "table" then
      for _, p in ipairs(r.doc.value) do
        if type(p) == "table" and type(p.id) == "string" then found[p.id:lower()] = p end
      end
    end
  end
  local results, ok = {}, 0
  for i, id in ipairs(ids) do
    local oid = object_ids[i]
    local p = oid and found[oid:lower()]
    results[i] = p or errors[i] or (oid and out[chunk_of[i]].err) or missing(id)
    if p then ok = ok + 1 end
  end
  return pretty.document(results), { ok = ok, failed = #ids - ok }
end

return M
