-- The rock: `luarocks make` into a private tree, then require it from a
-- fresh lua5.4 that sees only that tree (no other Lua module is needed).
describe("the rockspec", function()
  local util = require "support.util"

  local ROCKSPEC = "rockspec/lua-msgraph-scm-1.rockspec"
  local have_luarocks = select(2, util.run("command -v luarocks"))

  local tree, src
  teardown(function()
    util.rmtree(tree)
    util.rmtree(src)
  end)

  if not have_luarocks then
    pending("luarocks is not installed: the rock cannot be built")
    return
  end

  it("installs with luarocks make and loads in a fresh process", function()
    assert.truthy(util.read_file(util.root .. "/" .. ROCKSPEC), ROCKSPEC .. " is missing")
    -- build from a copy, so the work tree is left untouched
    src, tree = util.tmpdir(), util.tmpdir()
    local out, ok = util.run(("cd %s && tar --exclude=./.git --exclude=./graph -cf - . | tar -xf - -C %s")
      :format(util.shell_quote(util.root), util.shell_quote(src)))
    assert.is_true(ok, out)
    -- for the Lua running this suite: LuaJIT builds as 5.1 with its own headers
    local v = _VERSION:match("%d+%.%d+")
    local luajit = type(jit) == "table"                       -- luacheck: ignore 113
    out, ok = util.run(("cd %s && luarocks --lua-version %s make %s --tree %s --deps-mode=none%s")
      :format(util.shell_quote(src), v, ROCKSPEC, util.shell_quote(tree),
              luajit and " LUA_INCDIR=/usr/include/luajit-2.1" or ""))
    assert.is_true(ok, "luarocks make failed:\n" .. out)

    local lpath = ("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;"):format(tree, v, tree, v)
    local cpath = ("%s/lib/lua/%s/?.so;;"):format(tree, v)
    out, ok = util.run_lua([[
      local graph = require "graph"
      local core = require "graph.core"
      package.searchpath = package.searchpath or function(name, path)   -- Lua 5.1
        for template in path:gmatch("[^;]+") do
          local file = template:gsub("%?", (name:gsub("%.", "/")))
          local f = io.open(file)
          if f then f:close() return file end
        end
      end
      print("CORE=" .. core._VERSION)
      print("GRAPH=" .. tostring(graph._VERSION))
      print("GRAPHFILE=" .. package.searchpath("graph", package.path))
      print("COREFILE=" .. package.searchpath("graph.core", package.cpath))
      assert(type(graph.client) == "function" and type(graph.configure) == "function")
      assert(require("graph.json").encode({ a = graph.array() }) == '{"a":[]}')
    ]], {}, { lua_path = lpath, lua_cpath = cpath, cwd = tree, lua = luajit and "luajit" or "lua" .. v })
    assert.is_true(ok, out)
    assert.truthy(out:match("CORE=%d+%.%d+%.%d+"), out)
    assert.truthy(out:find("GRAPHFILE=" .. tree, 1, true), out)
    assert.truthy(out:find("COREFILE=" .. tree, 1, true), out)
  end)
end)
