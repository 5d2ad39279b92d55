-- Paging (issue 10): a walk never raises, never runs forever and never
-- ends a failed listing silently. `all = true` returns nil, err; g.pages and
-- g.items end with one final (false, err) step, then nil.
describe("paging", function()
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local LIST = { path = "/users", query = { ["$top"] = 10 } }       -- 30 users: 3 pages

  -- The skiptoken of each page after the first, read from a clean walk.
  local function skiptokens()
    local g, tokens = emu:client(), {}
    for page, err in g.pages(LIST) do
      assert.truthy(page, tostring(err))
      local link = page["@odata.nextLink"]
      if link then tokens[#tokens + 1] = link:match("skiptoken=([%w_-]+)") end
    end
    assert.equal(2, #tokens)
    emu:reset()
    return tokens
  end

  -- Every step of a g.pages / g.items loop: { value, err } pairs, bounded.
  local function steps(iter)
    local out = {}
    for _ = 1, 100 do
      local v, err = iter()
      out[#out + 1] = { v, err }
      if v == nil then return out end
    end
    error("the iterator did not end")
  end

  -- Pages / items seen, the final (false, err) step's error, and checks that
  -- the loop then ends with nil.
  local function failed_walk(iter)
    local list = steps(iter)
    assert.is_nil(list[#list][1], "a last nil step")
    local last = list[#list - 1]
    assert.is_false(last[1], "a (false, err) step before the end")
    assert.is_table(last[2])
    require("support.secrets").observe(last[2])
    return #list - 2, last[2]
  end

  -- A walk through the three-page listing where `fault(tokens)` breaks it,
  -- seen through all = true, g.pages and g.items.
  local function each_way(fault, check)
    local tokens = skiptokens()
    local g = emu:client{ max_retries = 0 }

    emu:fault(fault(tokens))
    local err = util.expect_failure(g.users.list, { top = 10, all = true })
    check(err, "all = true")

    emu:reset()
    emu:fault(fault(tokens))
    local pages, perr = failed_walk(g.pages(LIST))
    check(perr, "g.pages")
    assert.is_true(pages <= 2)

    emu:reset()
    emu:fault(fault(tokens))
    local items, ierr = failed_walk(g.items(LIST))
    check(ierr, "g.items")
    assert.is_true(items <= 20)
  end

  it("a 503 on page 3, retries exhausted, reaches the caller of every walk", function()
    each_way(function(tokens)
      return { target = "graph", path = "skiptoken=" .. tokens[2], status = 503, count = 10,
               json = { error = { code = "serviceNotAvailable", message = "later" } } }
    end, function(err, how)
      assert.equal("graph", err.kind, how)
      assert.equal(503, err.status_code, how)
      assert.equal("serviceNotAvailable", err.code, how)
    end)
  end)

  it("a 503 on page 3 with retries left is retried and the walk completes", function()
    local tokens = skiptokens()
    emu:fault{ target = "graph", path = "skiptoken=" .. tokens[2], status = 503, count = 1,
               headers = { ["Retry-After"] = "0.05" } }
    local all = util.expect_success(emu:client().users.list, { top = 10, all = true })
    assert.equal(30, #all.value)
  end)

  it("a 204 page is not_a_collection", function()
    each_way(function(tokens)
      return { target = "graph", path = "skiptoken=" .. tokens[1], status = 204, body = "" }
    end, function(err, how)
      assert.equal("not_a_collection", err.code, how)
      assert.equal(204, err.status_code, how)
    end)
  end)

  local not_pages = {
    ["without a value"] = { id = "x", displayName = "not a page" },
    ["whose value is an object"] = { value = { id = "x" } },
    ["whose value is a string"] = { value = "x" },
  }
  for what, json in pairs(not_pages) do
    it(("a page %s is not_a_collection"):format(what), function()
      each_way(function(tokens)
        return { target = "graph", path = "skiptoken=" .. tokens[1], status = 200, json = json }
      end, function(err, how)
        assert.equal("decode", err.kind, how)
        assert.equal("not_a_collection", err.code, how)
      end)
    end)
  end

  it("a last page with an empty value ends the walk normally", function()
    local tokens = skiptokens()
    emu:fault{ target = "graph", path = "skiptoken=" .. tokens[2], status = 200,
               json = { value = {} } }
    local all = util.expect_success(emu:client().users.list, { top = 10, all = true })
    assert.equal(20, #all.value)
  end)

  for what, bad in pairs{ ["a space"] = "a b", ["a control byte"] = "a\1b", ["a tab"] = "a\tb" } do
    it(("a same-host nextLink holding %s is bad_next_link, never raised"):format(what), function()
      each_way(function(tokens)
        return { target = "graph", path = "skiptoken=" .. tokens[1], status = 200,
                 json = { value = { { id = "u" } },
                          ["@odata.nextLink"] = emu.url .. "/v1.0/users?$skiptoken=" .. bad } }
      end, function(err, how)
        assert.equal("bad_next_link", err.code, how)
      end)
    end)
  end

  it("a nextLink that repeats a page already read is page_loop", function()
    each_way(function(tokens)
      return { target = "graph", path = "skiptoken=" .. tokens[2], status = 200, count = 10,
               json = { value = { { id = "u" } },
                        ["@odata.nextLink"] = emu.url .. "/v1.0/users?$top=10&$skiptoken=" ..
                          tokens[1] } }
    end, function(err, how)
      assert.equal("page_loop", err.code, how)
    end)
  end)

  it("a nextLink that is not a string is bad_next_link", function()
    each_way(function(tokens)
      return { target = "graph", path = "skiptoken=" .. tokens[1], status = 200,
               json = { value = {}, ["@odata.nextLink"] = 42 } }
    end, function(err, how)
      assert.equal("bad_next_link", err.code, how)
    end)
  end)

  it("passing max_pages is page_limit, never a partial value", function()
    local g = emu:client()
    local err = util.expect_failure(g.users.list, { top = 10, all = true, max_pages = 2 })
    assert.equal("page_limit", err.code)
    assert.matches("max_pages %(2%)", err.message)
    assert.equal(2, emu:stats().graph_requests)
    local pages, perr = failed_walk(g.pages{ path = "/users", query = { ["$top"] = 10 },
                                             max_pages = 2 })
    assert.equal(2, pages)                       -- both pages yielded, then the error
    assert.equal("page_limit", perr.code)
    local items, ierr = failed_walk(g.items{ path = "/users", query = { ["$top"] = 10 },
                                             max_pages = 1 })
    assert.equal(10, items)
    assert.equal("page_limit", ierr.code)
    local all = util.expect_success(g.users.list, { top = 10, all = true, max_pages = 3 })
    assert.equal(30, #all.value)
    -- memberOf and security alerts take it too (Lynne has 3 pages of memberships)
    err = util.expect_failure(g.users.memberof, { id = fx.lynne_id, all = true, max_pages = 2 })
    assert.equal("page_limit", err.code)
    err = util.expect_failure(g.security.alerts.list, { top = 4, all = true, max_pages = 3 })
    assert.equal("page_limit", err.code)
    assert.equal(15, #util.expect_success(g.security.alerts.list, { top = 4, all = true,
                                                                     max_pages = 4 }).value)
  end)

  it("max_pages defaults to 10,000 and must be a positive integer", function()
    assert.equal(10000, require("graph.client").MAX_PAGES)
    local g = emu:client()
    assert.has_error(function() g.pages{ path = "/users", max_pages = 0 } end)
    assert.has_error(function() g.items{ path = "/users", max_pages = "2" } end)
    assert.has_error(function() g.users.memberof{ id = "x", all = true, max_pages = 1.5 } end)
  end)

  it("a walk of one page ends with nil, with no error step", function()
    local list = steps(emu:client().pages{ path = "/users", query = { ["$top"] = 100 } })
    assert.equal(2, #list)
    assert.equal(30, #list[1][1].value)
    assert.is_nil(list[2][1])
  end)
end)
