--- graph.nginx: lua-msgraph from an nginx (lua-nginx-module) handler without
-- blocking the worker. nginx's Lua cannot watch a foreign descriptor, so
-- each call runs the blocking client in one of nginx's thread pools
-- (`ngx.run_worker_thread`); the calling request's coroutine waits, the
-- worker goes on serving. docs/hosts/nginx.md shows the configuration.
--
--   local result, err = require("graph.nginx").call("graph", "users.get", { id = id })
--
-- Two halves in one module: `call` runs in the request's Lua VM, `run` in a
-- worker thread's own VM (nginx requires this module there and calls `run`).
-- Only strings, numbers, booleans, tables and light userdata cross between
-- the two, without metatables, so both directions travel as JSON text in
-- the library's own codec: graph.array markers, empty arrays and graph.null
-- arrive as they left; the result's own metatable (a document's, an
-- error's) is named on the way and put back.
local M = {}

-- Loaded on first use, not when this module is required: nginx requires it
-- for each new thread VM in the worker's event loop, and then only this
-- file is read there; the C core and the rest load in the thread.
local check, core, errors, pretty, ERROR_MT
local function load()
  if core then return end
  check, core, pretty = require "graph.check", require "graph.core", require "graph.pretty"
  errors = require "graph.errors"
  ERROR_MT = getmetatable(errors.new{ kind = "graph" })
end

-- Clients kept per thread VM, by their options: connections and the token
-- are reused from one call to the next on the same VM.
local MAX_CLIENTS = 8

local WHO = "graph.nginx.call"

---------------------------------------------------------------------------
-- Across the thread boundary

-- ("json", text), or ("lua", value) for what JSON cannot hold (bytes that
-- are not UTF-8, a sparse array): nginx then copies it as it is, and its
-- array markers are lost.
local function pack(v)
  local text = core.json_encode(v)
  if text then return "json", text end
  return "lua", v
end

local function unpack_value(how, v)
  if how == "json" then return (assert(core.json_decode(v))) end
  return v
end

-- What nginx's copy refuses, found before it is tried: a function,
-- userdata or coroutine anywhere in `v`, or a cycle (nginx's copy would
-- recurse forever). Raises naming the field.
local function check_copyable(v, path, seen)
  local t = type(v)
  if t == "table" then
    if seen[v] then
      check.raise(("%s: %s refers back to itself: a cycle cannot cross to the worker thread")
        :format(WHO, path))
    end
    seen[v] = true
    for k, x in pairs(v) do
      local kt = type(k)
      if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
        check.raise(("%s: %s has a %s key: only strings, numbers and booleans cross to the worker thread")
          :format(WHO, path, kt))
      end
      check_copyable(x, path .. "." .. tostring(k), seen)
    end
    seen[v] = nil
  elseif t == "function" or t == "thread" or (t == "userdata" and v ~= core.json_null) then
    check.raise(("%s: %s is a %s: only strings, numbers, booleans, tables and graph.null " ..
                 "cross to the worker thread"):format(WHO, path, t))
  end
end

-- The metatables a result and its items come with, by name: "document"
-- (prints as JSON), "error" (one-line tostring), or "-" for none of them.
local function mark_of(v)
  local mt = getmetatable(v)
  return mt == ERROR_MT and "error" or mt == pretty.DOCUMENT and "document" or "-"
end
local restore = {
  error = function(v) return errors.new(v) end,
  document = function(v) return pretty.document(v) end,
  ["-"] = function(v) return v end,
}

-- { mark of result, mark of item 1, ... } for a result and, when it is a
-- list (a bulk call's), its items; put back by `remark`.
local function marks(result)
  local list = { mark_of(result) }
  if type(result) == "table" then
    for i, item in ipairs(result) do list[i + 1] = mark_of(item) end
  end
  return list
end
local function remark(result, list)
  if type(result) == "table" then
    for i, item in ipairs(result) do result[i] = restore[list[i + 1] or "-"](item) end
  end
  return restore[list[1] or "-"](result)
end

---------------------------------------------------------------------------
-- In the worker thread's VM

local clients, order = {}, {}

-- A text that is the same for equal options whatever their tables' order.
local function canonical(v)
  if type(v) ~= "table" then return type(v) .. ":" .. tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = canonical(k) .. "=" .. canonical(v[k]) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function client_for(opts)
  local key = canonical(opts)
  local c = clients[key]
  if c then return c end
  c = require("graph").client(opts)
  if #order >= MAX_CLIENTS then             -- options that vary per call: keep the last few
    local oldest = table.remove(order, 1)
    clients[oldest]:close()
    clients[oldest] = nil
  end
  clients[key], order[#order + 1] = c, key
  return c
end

-- "users.get" -> the client's bound action, or nil. Only the actions bound
-- on the client itself (rawget), never its methods such as refresh_token.
local function action_of(c, name)
  local fn = c
  for part in name:gmatch("[^.]+") do
    if type(fn) ~= "table" then return nil end
    fn = rawget(fn, part)
  end
  if type(fn) == "function" then return fn end
end

local function perform(req)
  local c = client_for(req.client)
  local fn = action_of(c, req.action)
  if not fn then check.raise(("%s: unknown action '%s'"):format(WHO, req.action)) end
  local result, second = fn(req.args)
  if type(result) == "function" or (type(result) == "table" and getmetatable(result) and
                                    getmetatable(result).__call) then
    check.raise(("%s: '%s' returns an iterator, which cannot leave the worker thread " ..
                 "(use 'request', or a listing's all = true)"):format(WHO, req.action))
  end
  if result == nil then return { err = second } end
  return { result = result, response = second, marks = marks(result) }
end

--- In the worker thread (nginx calls it; not for handlers): one call on
-- this VM's client, its outcome packed for the way back. A raised error
-- (a programming error) comes back as `raise`, to be raised in the caller.
function M.run(how, packed)
  load()
  local ok, out = pcall(perform, unpack_value(how, packed))
  if not ok then out = { raise = tostring(out) } end
  return pack(out)
end

---------------------------------------------------------------------------
-- In the request's VM

--- `result, response` or `nil, err` of `client[action](args)`, as the
-- blocking call returns them, run in the nginx thread pool `pool` by a
-- client made from `client_opts` (one per thread VM and options, kept).
-- Yields the request's coroutine: content, rewrite and access phases only.
-- When nginx cannot run the call (no such pool, no Lua VM left, the queue
-- full, this library not found in the thread): `nil, err` with kind
-- "host", code "worker_thread". Programming errors raise here.
function M.call(pool, action, args, client_opts)
  load()
  if type(pool) ~= "string" or pool == "" then
    check.raise(("%s: 'pool' must be the name of a thread_pool, got %s"):format(WHO, type(pool)))
  end
  if type(action) ~= "string" or action == "" or ("." .. action):gsub("%.[%a_][%w_]*", "") ~= "" then
    check.raise(("%s: 'action' must name a client action such as \"users.get\", got %s")
      :format(WHO, type(action) == "string" and ("%q"):format(action) or type(action)))
  end
  if args ~= nil and type(args) ~= "table" then
    check.raise(("%s: 'args' must be a table or nil, got %s"):format(WHO, type(args)))
  end
  if client_opts ~= nil and type(client_opts) ~= "table" then
    check.raise(("%s: 'client_opts' must be a table or nil, got %s"):format(WHO, type(client_opts)))
  end
  local req = { action = action, args = args or {}, client = client_opts or {} }
  check_copyable(req.args, "args", {})
  check_copyable(req.client, "client_opts", {})

  local run_worker_thread = type(ngx) == "table" and ngx.run_worker_thread   -- luacheck: ignore 113
  if not run_worker_thread then
    check.raise(("%s: not in nginx: ngx.run_worker_thread is missing (lua-nginx-module 0.10.21 or later, " ..
                 "nginx built with threads)"):format(WHO))
  end
  local ok, how, packed = run_worker_thread(pool, "graph.nginx", "run", pack(req))
  if not ok then
    return nil, errors.new{ kind = "host", code = "worker_thread",
                            message = "nginx could not run the call in a worker thread: " .. tostring(how) }
  end
  local out = unpack_value(how, packed)
  if out.raise then check.raise(out.raise) end
  if out.err then return nil, errors.new(out.err) end
  return remark(out.result, out.marks), out.response
end

return M
