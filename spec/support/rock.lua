-- The rock, built once per Lua version and process: `luarocks make` from a
-- copy of the work tree (so ./graph/core.so and the tree stay untouched) into
-- a private tree. Shared by rock_spec.lua and cli_spec.lua.
local util = require "support.util"

local M = {}

M.ROCKSPEC = "rockspec/lua-msgraph-scm-1.rockspec"

function M.have_luarocks()
  return select(2, util.run("command -v luarocks"))
end

local built = {}

-- build(version): the rock for Lua `version` ("5.4"; LuaJIT builds as "5.1"
-- with its own headers). Returns { tree, version, lua_path, lua_cpath, core }
-- (core: the path of the installed graph/core.so), or nil and luarocks' output.
function M.build(version, luajit)
  local key = version .. (luajit and "-luajit" or "")
  if built[key] then return built[key] end
  local src, tree = util.tmpdir(), util.tmpdir()
  local out, ok = util.run(("cd %s && tar --exclude=./.git --exclude=./graph --exclude=./build -cf - . | tar -xf - -C %s")
    :format(util.shell_quote(util.root), util.shell_quote(src)))
  if not ok then return nil, "copying the work tree failed:\n" .. out end
  out, ok = util.run(("cd %s && luarocks --lua-version %s make %s --tree %s --deps-mode=none%s")
    :format(util.shell_quote(src), version, M.ROCKSPEC, util.shell_quote(tree),
            luajit and " LUA_INCDIR=/usr/include/luajit-2.1" or ""))
  util.rmtree(src)
  if not ok then return nil, "luarocks make failed:\n" .. out end
  built[key] = {
    tree = tree, version = version,
    lua_path = ("%s/share/lua/%s/?.lua;%s/share/lua/%s/?/init.lua;;"):format(tree, version, tree, version),
    lua_cpath = ("%s/lib/lua/%s/?.so;;"):format(tree, version),
    core = ("%s/lib/lua/%s/graph/core.so"):format(tree, version),
  }
  return built[key]
end

return M
