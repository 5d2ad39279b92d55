-- The project never points at files it does not contain: every relative
-- Markdown link and every backticked repository path (`docs/wire.md`,
-- `spec/support/util.lua`, a bare `README.md`) in a tracked file names a tracked file
-- or directory, and every `docs/wire.md §N` cited is a section of it.
local util = require "support.util"

-- Top-level directories whose paths are checked when backticked.
local TOP = { "bench", "bin", "csrc", "docs", "emulator", "examples", "fuzz", "lua", "rockspec",
              "spec", ".ci" }
local SECTION = "docs/wire%.md \194\167%d+[%d.]*"    -- "docs/wire.md §7.1"

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

  -- Every "file: match" where a match of `pattern` in a tracked text file
  -- (only the Markdown ones with `md_only`) resolves, by resolve(file, match),
  -- to no tracked path; resolve returns nil for a match that is no reference.
  local function missing(pattern, resolve, md_only)
    local bad = {}
    for _, f in ipairs(files) do
      local text = (not md_only or f:match("%.md$")) and util.read_file(util.root .. "/" .. f)
      if text and not text:find("\0", 1, true) then
        for match in text:gmatch(pattern) do
          local target = resolve(f, match)
          if target ~= nil and not paths[target] then bad[#bad + 1] = f .. ": " .. match end
        end
      end
    end
    return bad
  end

  it("Markdown links name files of the checkout", function()
    assert.are.same({}, missing("%]%(([^)%s]+)%)", function(f, target)
      local path = target:gsub("#.*$", "")
      if target:match("^%a[%w+.-]*:") or path == "" then return nil end   -- a URL, an anchor
      local base = dirname(f)
      return normalize(base == "" and path or (base .. "/" .. path)) or false
    end, true))
  end)

  it("backticked paths in docs and comments name files of the checkout", function()
    assert.are.same({}, missing("`([^`\n]+)`", function(f, quoted)
      local path = repo_path(quoted)
      if not path then return nil end
      -- a bare "README.md" may be the one beside the file
      local beside = not path:find("/", 1, true) and dirname(f) ~= "" and (dirname(f) .. "/" .. path)
      if beside and paths[beside] then return beside end
      return normalize(path) or false
    end))
  end)

  it("each docs/wire.md section cited exists", function()
    local wire = util.read_file(util.root .. "/docs/wire.md") or ""
    assert.are.same({}, missing(SECTION, function(_, cited)
      local n = cited:match("(%d[%d.]*)$"):gsub("%.$", "")
      return wire:find("\n##+ " .. n:gsub("%.", "%%.") .. "[%. ]") and "docs/wire.md" or false
    end))
  end)
end)
