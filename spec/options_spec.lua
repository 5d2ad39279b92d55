-- The options of graph.core.session and the grants, each described once in
-- C (core.options, core.grants): unknown keys refused, every type and range
-- checked from the table, graph.client checking the same ranges, and each
-- grant one row that the whole library follows.
describe("options", function()
  local core = require "graph.core"
  local graph = require "graph"
  local options = require "graph.options"
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"

  local PUBLIC_CLIENT = "9d3f5b7e-2c4a-4f6e-8b1d-3e5c7a9f2b4d"  -- the emulator's public app

  local emu
  setup(function() emu = emulator.shared() end)
  before_each(function() emu:reset() end)

  local raised = util.raised

  -- A message without its position and the function it names.
  local function text(msg)
    return (msg:gsub("^.-graph%.core%.session: ", ""):gsub("^.-graph%.client: ", ""))
  end

  local function accepted(t)
    local s = core.session(t)
    s:close()
  end

  local sorted = util.sorted_keys

  -- Values around a number option's range: { value, in range }.
  local function around(spec)
    local cases = {
      { spec.min, true }, { spec.max, true },
      { spec.min - (spec.min > 0 and spec.min / 2 or 1), false }, { spec.max * 2, false },
      { 0 / 0, false }, { -math.huge, false }, { math.huge, false },
    }
    if spec.integer then cases[#cases + 1] = { spec.min + 0.5, false } end
    return cases
  end

  local WRONG = { string = {}, number = "10", boolean = "yes", ["function"] = "print" }

  describe("core.session", function()
    it("refuses an unknown key, naming it", function()
      assert.equal("graph.core.session: unknown option 'timout'", raised(core.session, { timout = 1 }))
      assert.equal("graph.core.session: unknown option 'auth'",
        raised(core.session, { timeout = 5, auth = "password" }))
      assert.equal("graph.core.session: unknown option '1'", raised(core.session, { "x" }))
      assert.equal("graph.core.session: unknown option (a boolean key)", raised(core.session, { [true] = 1 }))
      assert.truthy(raised(core.session, { ["timeout\0x"] = 1 }):find("NUL", 1, true))
    end)

    it("refuses each option given the wrong type, saying what it must be", function()
      for _, name in ipairs(sorted(core.options)) do
        local spec = core.options[name]
        local wrong = assert(WRONG[spec.type], spec.type)
        assert.equal(("graph.core.session: field '%s' must be %s, got %s"):format(name, spec.expect, type(wrong)),
          raised(core.session, { [name] = wrong }))
      end
    end)

    it("refuses CR, LF or NUL in each string option", function()
      for _, name in ipairs(sorted(core.options)) do
        if core.options[name].type == "string" then
          for _, bad in ipairs{ "a\rb", "a\nb", "a\0b" } do
            assert.equal(("graph.core.session: field '%s' contains CR, LF or NUL"):format(name),
              raised(core.session, { [name] = bad }))
          end
        end
      end
    end)

    it("takes each number option at its bounds and refuses it outside them", function()
      local numbers = 0
      for _, name in ipairs(sorted(core.options)) do
        local spec = core.options[name]
        if spec.type == "number" then
          numbers = numbers + 1
          for _, case in ipairs(around(spec)) do
            if case[2] then
              assert.has_no.errors(function() accepted{ [name] = case[1] } end, name .. " = " .. case[1])
            else
              assert.equal(("graph.core.session: field '%s' must be %s"):format(name, spec.expect),
                raised(core.session, { [name] = case[1] }))
            end
          end
        end
      end
      assert.equal(4, numbers)     -- timeout, connect_timeout, stall_timeout, max_response_bytes
    end)

    it("refuses a value that is none of an option's choices, and takes each choice", function()
      for _, name in ipairs(sorted(core.options)) do
        local spec = core.options[name]
        if spec.values then
          assert.equal(("graph.core.session: field '%s' must be %s"):format(name, spec.expect),
            raised(core.session, { [name] = "nope" }))
        end
      end
      for _, alg in ipairs(core.options.certificate_alg.values) do
        assert.has_no.errors(function() accepted{ certificate_alg = alg } end)
      end
    end)

    it("describes defaults that pass their own checks", function()
      for _, name in ipairs(sorted(core.options)) do
        local spec = core.options[name]
        if spec.default ~= nil then
          assert.equal(spec.type, type(spec.default), name)
          assert.has_no.errors(function() accepted{ [name] = spec.default } end, name)
        end
      end
      assert.equal(100, core.options.timeout.default)
      assert.equal("https://graph.microsoft.com/.default", core.options.scope.default)
    end)
  end)

  describe("graph.client", function()
    it("takes every option core.session takes (the grant as auth), with the session's type", function()
      for name, spec in pairs(core.options) do
        if name == "grant" then
          assert.is_nil(options.schema.grant)
        elseif name == "scope" then
          assert.equal("string|table", options.schema.scope)    -- an array is joined first
        else
          assert.equal(spec.type, options.schema[name], name)
        end
      end
    end)

    it("agrees with core.session on every number option's range and on its error", function()
      for _, name in ipairs(sorted(core.options)) do
        local spec = core.options[name]
        if spec.type == "number" then
          for _, case in ipairs(around(spec)) do
            local label = ("%s = %s"):format(name, tostring(case[1]))
            local c_ok, c_msg = pcall(accepted, { [name] = case[1] })
            local l_ok, l_result = pcall(graph.client, emu:client_options{ [name] = case[1] })
            assert.equal(case[2], c_ok, label)
            assert.equal(c_ok, l_ok, label .. ": " .. tostring(l_result))
            if l_ok then
              assert.equal(case[1], options.normalize(emu:client_options{ [name] = case[1] })[name])
              l_result:close()
            else
              assert.equal(text(tostring(c_msg)), text(tostring(l_result)), label)
              assert.truthy(tostring(l_result):find("graph.client: ", 1, true), label)
            end
          end
        end
      end
    end)

    it("agrees with core.session on every choice", function()
      for name, spec in pairs(core.options) do
        if spec.values and name ~= "grant" then
          assert.equal(text(raised(core.session, { [name] = "nope" })),
            text(raised(graph.client, emu:client_options{ [name] = "nope" })))
          for _, v in ipairs(spec.values) do
            local g = graph.client(emu:client_options{ [name] = v })
            g:close()
          end
        end
      end
    end)

    it("refuses each session option of the wrong type, naming it and the type given", function()
      for name, spec in pairs(core.options) do
        if name ~= "grant" then
          local wrong = name == "scope" and true or WRONG[spec.type]   -- a client's scope may be an array
          local msg = raised(graph.client, emu:client_options{ [name] = wrong })
          assert.truthy(msg:find("graph.client: field '" .. name .. "' must be ", 1, true), msg)
          assert.truthy(msg:find("got " .. type(wrong), 1, true), msg)
        end
      end
    end)

    it("fills the session's defaults from core.options", function()
      local o = options.normalize(emu:client_options{ timeout = emulator.NONE })
      for name, spec in pairs(core.options) do
        if spec.default ~= nil and name ~= "grant" and name ~= "scope" then
          assert.equal(spec.default, o[name], name)
        end
      end
      local session = options.session(o)
      for name in pairs(session) do assert.is_table(core.options[name], name) end
      assert.equal("client_credentials", session.grant)
    end)
  end)

  describe("grants", function()
    -- A value for each thing a grant may need; a grant needing something new
    -- fails here until the spec knows how to give it.
    local function give(need, t, for_session)
      local values = {
        token_url = for_session and (emu.url .. "/" .. fx.tenant_id .. "/oauth2/v2.0/token") or nil,
        client_id = fx.client_id, username = fx.adele_upn, password = fx.adele_password,
        refresh_token = fx.seed_refresh_token, on_device_code = function() end,
        ["client_secret|certificate_file"] = fx.client_secret,
      }
      assert.is_true(values[need] ~= nil or need == "token_url", "no test value for need '" .. need .. "'")
      t[need == "client_secret|certificate_file" and "client_secret" or need] = values[need]
    end

    local function shown(need) return "'" .. need:gsub("|", "' or '") .. "'" end

    local function each_grant(f)
      local n = 0
      for _, g in ipairs(core.grants) do
        if g.name ~= "none" then
          n = n + 1
          f(g)
        end
      end
      assert.is_true(n >= 4, "grants: " .. n)
    end

    it("are the choices of core.session's grant, in the table's order", function()
      local names = {}
      for i, g in ipairs(core.grants) do names[i] = g.name end
      assert.same(names, core.options.grant.values)
      assert.equal("none", names[1])
      assert.same(sorted(options.grants), (function()
        local t = {}
        for i = 2, #names do t[#t + 1] = names[i] end
        table.sort(t)
        return t
      end)())
    end)

    it("are each an auth mode of graph.client, taken with just what the grant needs", function()
      each_grant(function(g)
        local o = { auth = g.name, tenant_id = fx.tenant_id, url = emu.url, login_url = emu.url }
        for _, need in ipairs(g.needs) do give(need, o) end
        local c = graph.client(o)
        assert.truthy(tostring(c):find("(" .. g.name .. ",", 1, true), tostring(c))
        c:close()
        for _, need in ipairs(g.needs) do
          if need ~= "token_url" and need ~= "on_device_code" then   -- made from tenant_id; printed
            local without = {}
            for k, v in pairs(o) do without[k] = v end
            without[need == "client_secret|certificate_file" and "client_secret" or need] = nil
            local msg = raised(graph.client, without)
            assert.truthy(msg:find("graph.client: ", 1, true), msg)
            assert.equal(("auth '%s' needs field %s"):format(g.name, shown(need)), text(msg))
          end
        end
      end)
    end)

    it("are each refused by core.session without any one of their needs", function()
      each_grant(function(g)
        local t = { grant = g.name }
        for _, need in ipairs(g.needs) do give(need, t, true) end
        accepted(t)
        for _, need in ipairs(g.needs) do
          local without = {}
          for k, v in pairs(t) do without[k] = v end
          without[need == "client_secret|certificate_file" and "client_secret" or need] = nil
          assert.equal(("graph.core.session: grant '%s' needs field %s"):format(g.name, shown(need)),
            raised(core.session, without))
        end
      end)
    end)

    it("ask for offline_access by default exactly when they are delegated", function()
      each_grant(function(g)
        local o = { auth = g.name, tenant_id = fx.tenant_id }
        for _, need in ipairs(g.needs) do give(need, o) end
        local scope = options.normalize(o).scope
        assert.equal(g.delegated, scope:find(" offline_access$") ~= nil, g.name .. ": " .. scope)
      end)
    end)

    it("are each documented in the README's auth table, and nothing else is", function()
      local readme = assert(util.read_file(util.root .. "/README.md"))
      local table_text = assert(readme:match("\n| `auth` | fields | grant |\n(.-)\n\n"), "no auth table")
      local documented = {}
      for line in table_text:gmatch("[^\n]+") do
        local name = line:match("^| `([%w_]+)` |")
        if name then documented[name] = true end
      end
      assert.same(sorted(options.grants), sorted(documented))
    end)

    -- The form each grant's token request carries: exactly its row's fields.
    local function form_keys(req)
      local keys = {}
      for k in pairs(util.decode_form(req.body)) do keys[#keys + 1] = k end
      table.sort(keys)
      return keys
    end

    local function expected_keys(g)
      local keys = { "grant_type" }
      for _, f in ipairs(g.sends) do
        keys[#keys + 1] = f == "client_secret|certificate_file" and "client_secret" or f
      end
      table.sort(keys)
      return keys
    end

    it("each send the token request their row lists", function()
      each_grant(function(g)
        emu:reset()
        local c
        if g.name == "device_code" then
          emu:config{ device_interval = 0.2 }
          c = emu:client{ auth = g.name, client_id = PUBLIC_CLIENT, client_secret = emulator.NONE,
            tenant_id = "organizations", on_device_code = function(info)
              emu:call_later(0.3, "POST", "/_emulator/device/approve",
                             { user_code = info.user_code, username = fx.adele_upn })
            end }
        else
          local o = { auth = g.name }
          for _, need in ipairs(g.needs) do give(need, o) end
          c = emu:client(o)
        end
        util.expect_success(c.users.get, { id = fx.adele_id })
        c:close()
        local reqs = emu:token_requests()
        local last = reqs[#reqs]
        assert.truthy(last.path:find("/token$"), last.path)
        assert.equal(g.grant_type, util.decode_form(last.body).grant_type)
        assert.same(expected_keys(g), form_keys(last), g.name)
      end)
    end)
  end)
end)
