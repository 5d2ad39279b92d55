-- The rock: `luarocks make` into a private tree (spec/support/rock.lua), then
-- require it from a fresh interpreter that sees only that tree (no other Lua
-- module is needed), and read what its graph/core.so exports.
describe("the rockspec", function()
  local util = require "support.util"
  local rock = require "support.rock"

  -- for the Lua running this suite: LuaJIT builds as 5.1 with its own headers
  local v = _VERSION:match("%d+%.%d+")
  local luajit = type(jit) == "table"                       -- luacheck: ignore 113

  local rockspec = util.read_file(util.root .. "/" .. rock.ROCKSPEC)

  it("lists every C source, each of which hides its definitions", function()
    assert.truthy(rockspec, rock.ROCKSPEC .. " is missing")
    local out = util.run("cd " .. util.shell_quote(util.root) .. " && ls csrc/*.c")
    for file in out:gmatch("(csrc/[%w_]+%.c)") do
      assert.truthy(rockspec:find('"' .. file .. '"', 1, true), file .. " is not in " .. rock.ROCKSPEC)
      local text = assert(util.read_file(util.root .. "/" .. file))
      local last
      for line in text:gmatch("[^\n]*") do
        local header = line:match('^%s*#%s*include%s*[<"]([^>"]+)[>"]')
        if header then last = header end
      end
      assert.are.equal("gc_visibility.h", last,
        file .. ': #include "gc_visibility.h" must be its last include (see that header)')
    end
  end)

  if not rock.have_luarocks() then
    pending("luarocks is not installed: the rock cannot be built")
    return
  end

  it("installs with luarocks make and loads in a fresh process", function()
    local built = assert(rock.build(v, luajit))
    local out, ok = util.run_lua([[
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
    ]], {}, { lua_path = built.lua_path, lua_cpath = built.lua_cpath, cwd = built.tree,
              lua = luajit and "luajit" or "lua" .. v })
    assert.is_true(ok, out)
    assert.truthy(out:match("CORE=%d+%.%d+%.%d+"), out)
    assert.truthy(out:find("GRAPHFILE=" .. built.tree, 1, true), out)
    assert.truthy(out:find("COREFILE=" .. built.tree, 1, true), out)
  end)

  it("exports luaopen_graph_core and nothing else from graph/core.so", function()
    local built = assert(rock.build(v, luajit))
    local out, ok = util.run("nm -D --defined-only " .. util.shell_quote(built.core))
    assert.is_true(ok, "nm (binutils, installed by make deps) failed:\n" .. out)
    local names = {}
    for name in out:gmatch("%x+ %a ([%w_@.]+)") do names[#names + 1] = name end
    table.sort(names)
    assert.are.same({ "luaopen_graph_core" }, names)
  end)
end)
