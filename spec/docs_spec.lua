-- The reference (docs/graph.ldoc, docs/core.ldoc; docs/config.ld says why
-- there) against the code: every name it documents exists, every public
-- function is documented, and no source carries LDoc tags LDoc never reads.
local util = require "support.util"
local graph = require "graph"
local core = require "graph.core"

-- The `@function` and `@field` names of an .ldoc file.
local function documented(file)
  local text = assert(util.read_file(util.root .. "/docs/" .. file), file)
  local names = {}
  for kind, name in text:gmatch("\n%-%- @(%a+) ([%w_.:]+)") do
    if kind == "function" or kind == "field" then names[name] = true end
  end
  return names
end

-- Dotted names of every function reachable from `t` (recursing into plain
-- tables but not into `skip`'s names: the documented fields).
local function functions_in(t, prefix, acc, skip)
  for k, v in pairs(t) do
    local name = prefix .. k
    if not skip[name] then
      if type(v) == "function" then acc[name] = true
      elseif type(v) == "table" and getmetatable(v) == nil then functions_in(v, name .. ".", acc, skip) end
    end
  end
  return acc
end

local function lookup(root, dotted)
  local v = root
  for part in dotted:gmatch("[^.]+") do
    if type(v) ~= "table" then return nil end
    v = v[part]
  end
  return v
end

local sorted_keys = util.sorted_keys

-- Each documented name resolves: "a.b" in `root`, "obj:m" a method of `objects[obj]`.
local function missing_in_code(names, root, objects)
  local missing = {}
  for name in pairs(names) do
    local obj, method = name:match("^(%w+):([%w_]+)$")
    local v
    if obj then v = objects[obj] and objects[obj][method] else v = lookup(root, name) end
    if v == nil then missing[#missing + 1] = name end
  end
  table.sort(missing)
  return missing
end

local function undocumented(code, names)
  local list = {}
  for _, name in ipairs(sorted_keys(code)) do
    if not names[name] then list[#list + 1] = name end
  end
  return list
end

describe("the reference", function()
  it("documents exactly graph's functions (docs/graph.ldoc)", function()
    local names = documented("graph.ldoc")
    local g = graph.client{ tenant_id = "contoso", client_id = "app", client_secret = "s",
                            url = "http://127.0.0.1:9", login_url = "http://127.0.0.1:9" }
    assert.are.same({}, missing_in_code(names, graph, { client = g }))
    names.core = true     -- graph.core: the other stub
    assert.are.same({}, undocumented(functions_in(graph, "", {}, names), names))
    g:close()
  end)

  it("documents exactly graph.core's functions and session methods (docs/core.ldoc)", function()
    local names = documented("core.ldoc")
    local s = core.session{}
    assert.are.same({}, missing_in_code(names, core, { session = s }))
    assert.are.same({}, undocumented(functions_in(core, "", {}, names), names))
    local methods = {}
    for k, v in pairs(getmetatable(s).__index) do
      if type(v) == "function" then methods["session:" .. k] = true end
    end
    assert.are.same({}, undocumented(methods, names))
    s:close()
  end)

  it("is the only place with LDoc tags: the sources have none", function()
    local out = util.run("cd " .. util.shell_quote(util.root) ..
      " && grep -nE '^[[:space:]]*(--|\\*\\*|/\\*)+ *@(module|function|tparam|treturn|return|raise|usage|field)\\b'" ..
      " lua/graph/*.lua csrc/*.c csrc/*.h || true")
    assert.are.equal("", out)
  end)
end)
