-- The project never points at files it does not contain: every relative
-- Markdown link and every backticked repository path (`docs/wire.md`,
-- `spec/support/util.lua`, a bare `README.md`) in a tracked file names a tracked file
-- or directory, and every `docs/wire.md §N` cited is a section of it.
local util = require "support.util"

-- Top-level directories whose paths are checked when backticked.
local TOP = { "bench", "bin", "csrc", "docs", "emulator", "examples", "fuzz", "lua", "rockspec",
              "spec", ".ci" }
local SECTION = "docs/wire%.md \194\167(%d+[%d.]*)"    -- "docs/wire.md §7.1"

-- The tracked files, and every directory that holds one.
local function tracked()
  local out, ok = util.run("git -C " .. util.shell_quote(util.root) .. " ls-files")
  if not ok then return nil, out end
  local paths, files = {}, {}
  for f in out:gmatch("[^\n]+") do
    files[#files + 1] = f
    paths[f] = true
    for dir in f:gmatch("()/") do paths[f:sub(1, dir - 1)] = true end
  end
  return files, paths
end

-- "a/b/../c/./d" -> "a/c/d"; nil when it climbs out of the checkout.
local function normalize(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts == 0 then return nil end
      parts[#parts] = nil
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return table.concat(parts, "/")
end

local function dirname(f) return f:match("^(.*)/[^/]*$") or "" end

-- Backticked text that names a repository path.
local function repo_path(s)
  if s:match("^[%w_.-]+%.md$") then return s end
  for _, top in ipairs(TOP) do
    if s:sub(1, #top + 1) == top .. "/" and s:match("^[%w_./-]+$") then
      return (s:gsub("/$", ""))
    end
  end
end

describe("references to repository files", function()
  local files, paths = tracked()
  if not files then
    pending("not a git checkout: " .. tostring(paths))
    return
  end

  -- Every (file, reference) whose target is missing.
  local function missing(check)
    local bad = {}
    for _, f in ipairs(files) do
      local text = util.read_file(util.root .. "/" .. f)
      if text and not text:find("\0", 1, true) then
        for _, ref in ipairs(check(f, text)) do
          if not paths[ref.target or ""] then bad[#bad + 1] = f .. ": " .. ref.text end
        end
      end
    end
    return bad
  end

  it("Markdown links name files of the checkout", function()
    local bad = missing(function(f, text)
      local refs = {}
      if not f:match("%.md$") then return refs end
      for target in text:gmatch("%]%(([^)%s]+)%)") do
        local path = target:gsub("#.*$", "")
        if not target:match("^%a[%w+.-]*:") and path ~= "" then
          local base = dirname(f)
          refs[#refs + 1] = { text = target, target = normalize(base == "" and path or (base .. "/" .. path)) }
        end
      end
      return refs
    end)
    assert.are.same({}, bad)
  end)

  it("backticked paths in docs and comments name files of the checkout", function()
    local bad = missing(function(f, text)
      local refs = {}
      for quoted in text:gmatch("`([^`\n]+)`") do
        local path = repo_path(quoted)
        if path then
          -- a bare "README.md" may be the one beside the file
          local beside = not path:find("/", 1, true) and dirname(f) ~= "" and (dirname(f) .. "/" .. path)
          refs[#refs + 1] = { text = quoted, target = (beside and paths[beside]) and beside or normalize(path) }
        end
      end
      return refs
    end)
    assert.are.same({}, bad)
  end)

  it("each docs/wire.md section cited exists", function()
    local wire = util.read_file(util.root .. "/docs/wire.md") or ""
    local bad = missing(function(_, text)
      local refs = {}
      for number in text:gmatch(SECTION) do
        local n = number:gsub("%.$", "")
        local found = wire:find("\n##+ " .. n:gsub("%.", "%%.") .. "[%. ]")
        refs[#refs + 1] = { text = "docs/wire.md \194\167" .. n, target = found and "docs/wire.md" }
      end
      return refs
    end)
    assert.are.same({}, bad)
  end)
end)
