-- graph.json (the C core's yajl codec): [] and {} stay apart, integers stay
-- integers, bad input is nil, message; then the same against the emulator.
local json = require "graph.json"
local graph = require "graph"

local has_integers = math.type ~= nil and math.type(1) == "integer"   -- Lua 5.3+

local function roundtrip(text)
  local v, msg = json.decode(text)
  assert(v ~= nil, msg)
  return assert(json.encode(v))
end

describe("graph.json", function()
  describe("decode then encode", function()
    it("keeps [] and {} apart, nested too", function()
      assert.equal("[]", roundtrip("[]"))
      assert.equal("{}", roundtrip("{}"))
      local text = '{"a":[],"b":{},"c":[[],{},[[]]]}'
      local pretty = require "graph.pretty"                        -- sorted keys, to compare
      assert.equal(text, pretty.json(json.decode(roundtrip(text)), { compact = true }))
      assert.equal(#text, #roundtrip(text))
      local user = json.decode('{"businessPhones":[],"otherMails":["a@b"],"extensions":{}}')
      assert.equal('{"businessPhones":[]}', json.encode({ businessPhones = user.businessPhones }))
      assert.equal('{"extensions":{}}', json.encode({ extensions = user.extensions }))
    end)

    it("gives decoded arrays the marker and leaves next, pairs and # as usual", function()
      local v = json.decode('{"e":[],"l":[1,2,3],"o":{}}')
      assert.is_true(json.is_array(v.e))
      assert.is_true(json.is_array(v.l))
      assert.is_false(json.is_array(v.o))
      assert.is_nil(getmetatable(v.o))
      assert.is_nil(getmetatable(v))
      assert.is_nil(next(v.e))
      assert.equal(3, #v.l)
      local n = 0
      for i, x in ipairs(v.l) do n = n + 1 assert.equal(i, x) end
      assert.equal(3, n)
    end)

    it("makes integers Lua integers on 5.3+, never an overflow error", function()
      local doc = json.decode('{"@odata.count":257,"neg":-42,"max":9223372036854775807,' ..
                              '"min":-9223372036854775808,"big":18446744073709551616,"f":2.5,"e":1e2}')
      assert.equal(257, doc["@odata.count"])
      assert.equal("257", json.encode(doc["@odata.count"]))
      assert.equal(2.5, doc.f)
      assert.equal(100, doc.e)
      assert.equal(2 ^ 64, doc.big)                                 -- beyond 2^63: a float
      assert.equal("1.8446744073709552e+19", json.encode(doc.big))
      if has_integers then
        assert.equal("integer", math.type(doc["@odata.count"]))
        assert.equal("integer", math.type(doc.neg))
        assert.equal(math.maxinteger, doc.max)
        assert.equal(math.mininteger, doc.min)
        assert.equal("float", math.type(doc.big))
        assert.equal("float", math.type(doc.f))
        assert.equal("float", math.type(doc.e))                     -- 1e2 is written as a float
        assert.equal("9223372036854775807", json.encode(doc.max))
        assert.equal("float", math.type(json.decode("9223372036854775808")))
      end
    end)

    it("writes floats in a form that reads back the same", function()
      for _, x in ipairs{ 0.1, 1 / 3, -2.5e-300, 1e300, 2 ^ 70, 5e-324, 123.456 } do
        assert.equal(x, json.decode(json.encode(x)))
      end
      assert.equal("0.1", json.encode(0.1))
      -- integral floats are written as integers (Lua 5.1 and LuaJIT have no others)
      assert.equal("3", json.encode(3.0))
      assert.equal("-9007199254740992", json.encode(-2.0 ^ 53))
    end)

    it("decodes escapes, surrogate pairs and unicode, and writes them back as UTF-8", function()
      local s = json.decode('"\\u00e9\\u20ac \\ud83d\\ude00 \\" \\\\ \\/ \\b\\f\\n\\r\\t \\u0000!"')
      assert.equal("\195\169\226\130\172 \240\159\152\128 \" \\ / \b\f\n\r\t \0!", s)
      assert.equal('"\195\169\226\130\172 \240\159\152\128 \\" \\\\ / \\b\\f\\n\\r\\t \\u0000!"',
                   json.encode(s))
      assert.equal("\240\159\152\128", json.decode('"\240\159\152\128"'))   -- raw UTF-8
      assert.equal('"\\u001F\127"', json.encode("\31\127"))   -- DEL needs no escape
    end)

    it("takes the last of repeated keys, and null as json.null", function()
      assert.equal(2, json.decode('{"a":1,"a":2}').a)
      local v = json.decode('{"x":null,"l":[null,true,false]}')
      assert.equal(json.null, v.x)
      assert.equal(graph.null, v.x)
      assert.same({ json.null, true, false }, v.l)
      assert.equal('{"x":null}', json.encode({ x = json.null }))
    end)

    it("decodes long arrays and objects (past the stack chunk) whole and in order", function()
      local parts, keys = {}, {}
      for i = 1, 20000 do
        parts[i] = tostring(i)
        keys[i] = ('"k%d":%d'):format(i, i)
      end
      local list = json.decode("[" .. table.concat(parts, ",") .. "]")
      assert.equal(20000, #list)
      for i = 1, 20000 do assert.equal(i, list[i]) end
      local obj = json.decode("{" .. table.concat(keys, ",") .. ',"k1":0}')
      local n = 0
      for _ in pairs(obj) do n = n + 1 end
      assert.equal(20000, n)
      assert.equal(0, obj.k1)                                       -- the last k1 wins
      assert.equal(20000, obj.k20000)
      local nested = json.decode("[" .. ("[1,2],"):rep(5000) .. "[]]")
      assert.equal(5001, #nested)
      assert.same({ 1, 2 }, nested[5000])
      assert.equal("[]", json.encode(nested[5001]))
    end)
  end)

  describe("decode refuses", function()
    local function refused(text, pattern)
      local v, msg = json.decode(text)
      assert.is_nil(v, text)
      assert.is_string(msg)
      assert.matches("^invalid JSON: ", msg)
      if pattern then assert.matches(pattern, msg) end
    end

    it("invalid JSON with nil, message, never raising", function()
      for _, text in ipairs{ "", " ", "[1,", "{", '{"a"}', "[1,]", "nul", "01", "1.", "+1", "'x'",
                             "[1] x", "NaN", "Infinity", '"\1"', '{"a":1,}', "/* c */ 1" } do
        refused(text)
      end
      refused("[1,2", "premature EOF at byte 4")
      refused("[1] [2]", "trailing garbage")
    end)

    it("the start of a second value, cut short, and the next decode is whole", function()
      for _, text in ipairs{ '7"abc', '[]"', '{"a":[1]}  "q', 'true "', '"x" "' } do
        refused(text, "trailing garbage")
        assert.equal(7, json.decode("7"))
        assert.same({ a = 1 }, json.decode('{"a":1}'))
      end
    end)

    it("invalid UTF-8 (as yajl checks it: the shape of multi-byte sequences)", function()
      refused('"\255"', "UTF8")
      refused('"\195"', "UTF8")
      refused('"a\128b"', "UTF8")
    end)

    it("numbers beyond a double's range", function()
      refused("1e400", "number out of range")
      refused('{"a":[-1e999]}', "number out of range")
    end)

    it("nesting past the depth limit, cleanly", function()
      local ok = ("["):rep(100) .. ("]"):rep(100)
      assert.equal(ok, roundtrip(ok))
      refused(("["):rep(101) .. ("]"):rep(101), "nested more than 100 levels")
      refused(('{"a":'):rep(100000), "nested more than 100 levels")
    end)

    it("never quotes the input in its message (a token reply holds secrets)", function()
      local _, msg = json.decode('{"access_token":"eyJsecret' .. '\1' .. '"}')
      assert.falsy(msg:find("eyJ", 1, true), msg)
    end)

    it("a non-string argument as a programming error", function()
      assert.has_error(function() json.decode({}) end)
    end)
  end)

  -- The core keeps one decoder per Lua state between decodes; the collector
  -- may run a __gc (Lua code) from inside a decode, at any allocation.
  describe("decode, with the collector's finalizers running inside it", function()
    local doc = "[" .. ('{"displayName":"Adele Vance","n":1,"a":[true,null]},'):rep(2000) .. '"end"]'
    local function whole(v)
      assert.equal(2001, #v)
      assert.equal("Adele Vance", v[2000].displayName)
      assert.same({ true, json.null }, v[1].a)
      assert.equal("end", v[2001])
    end
    local function finalizable(f) -- a value whose __gc runs f (a userdata on Lua 5.1)
      if newproxy then
        local p = newproxy(true)
        getmetatable(p).__gc = f
        return p
      end
      return setmetatable({}, { __gc = f })
    end
    -- rounds of garbage with a __gc each, then a decode, until one ran inside
    local function rounds(on_gc, each)
      local inside, ran = false, 0
      for _ = 1, 100 do
        for _ = 1, 20 do
          finalizable(function()
            if inside then
              ran = ran + 1
              on_gc()
            end
          end)
        end
        inside = true
        local ok, v = pcall(json.decode, doc)
        inside = false
        each(ok, v)
        if ran >= 5 then break end
      end
      collectgarbage()
      return ran
    end

    it("a decode run by a __gc inside another leaves both whole", function()
      local nested = {}
      local ran = rounds(function() nested[#nested + 1] = { json.decode('{"k":[1,"x"]}') } end,
                         function(ok, v) assert(ok, v); whole(v) end)
      assert.is_true(ran > 0, "no __gc ran inside a decode")
      for _, r in ipairs(nested) do assert.same({ 1, "x" }, r[1].k) end
    end)

    it("a decode that raises leaves the next one whole", function()
      -- Lua 5.1 to 5.3 and LuaJIT pass a __gc's error on to the allocation
      -- it ran from (here one inside a decode); Lua 5.4 warns instead
      local raised = 0
      local ran = rounds(function() error("from a __gc") end, function(ok, v)
        if not ok then
          raised = raised + 1
          assert.matches("from a __gc", v)
        else
          whole(v)
        end
        whole(assert(json.decode(doc)))
        assert.same({ 1, "x" }, json.decode('{"k":[1,"x"]}').k)
        assert.is_nil(json.decode("[1] [2]"))
        assert.equal(7, json.decode("7"))
      end)
      assert.is_true(ran > 0, "no __gc ran inside a decode")
      if _VERSION ~= "Lua 5.4" then assert.is_true(raised > 0, "no decode raised") end
    end)
  end)

  describe("encode", function()
    it("writes graph.array() as [] and a marked table as an array", function()
      assert.equal("[]", json.encode(graph.array()))
      assert.equal('["a","b"]', json.encode(graph.array({ "a", "b" })))
      local t = {}
      assert.equal(t, graph.array(t))
      assert.equal('{"otherMails":[]}', json.encode({ otherMails = graph.array() }))
      assert.equal("{}", json.encode({}))
      assert.has_error(function() graph.array("x") end, "graph.array: expected a table or nothing, got string")
    end)

    it("writes 1..n tables as arrays and string-keyed tables as objects", function()
      assert.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
      assert.equal('{"a":{"b":[true,false]}}', json.encode({ a = { b = { true, false } } }))
      assert.equal('"x"', json.encode("x"))
      assert.equal("null", json.encode(nil))
      assert.equal("true", json.encode(true))
    end)

    local function refused(v, pattern)
      local text, msg = json.encode(v)
      assert.is_nil(text)
      assert.is_string(msg)
      assert.matches(pattern, msg)
    end

    it("refuses what JSON cannot hold, naming the problem and the key path", function()
      refused({ a = { b = { 1, 2, print } } }, "^cannot encode a function at a%.b%[3%]$")
      refused({ 1, 2, nil, 4 }, "^cannot encode a sparse array %(3 elements, largest index 4%)$")
      refused({ x = { [true] = 1 } }, "^cannot encode a table with a key that is neither a string " ..
                                      "nor a positive integer at x$")
      refused({ 1, x = 2 }, "mixing string and integer keys")
      refused({ n = 0 / 0 }, "^cannot encode NaN or infinity at n$")
      refused({ l = { math.huge } }, "^cannot encode NaN or infinity at l%[1%]$")
      refused({ s = "\255" }, "^cannot encode a string that is not valid UTF%-8 at s$")
      refused(graph.array({ x = 1 }), "an array %(graph.array%) with a string key")
      refused(io.stdout, "^cannot encode a userdata$")
      refused(coroutine.create(function() end), "^cannot encode a thread$")
    end)

    it("refuses a cycle and a value nested too deep", function()
      local t = {}
      t.self = t
      refused(t, "^cannot encode a table nested more than 100 levels %(a cycle%?%) at self%.self")
      local deep = {}
      for _ = 1, 100 do deep = { deep } end
      refused(deep, "nested more than 100 levels")
      deep = {}
      for _ = 1, 99 do deep = { deep } end
      assert.equal(("["):rep(99) .. "{}" .. ("]"):rep(99), json.encode(deep))
    end)

    it("never quotes a value in its message (a body holds passwords)", function()
      local _, msg = json.encode({ passwordProfile = { password = "P@ss\255word" } })
      assert.equal("cannot encode a string that is not valid UTF-8 at passwordProfile.password", msg)
    end)
  end)
end)

describe("JSON against the emulator", function()
  local emulator = require "support.emulator"
  local util = require "support.util"
  local fx = require "support.fixtures"
  local pretty = require "graph.pretty"

  local emu, g
  setup(function() emu = emulator.shared() end)
  before_each(function()
    emu:reset()
    g = emu:client()
  end)

  local function last_patch_body()
    local reqs = emu:requests("graph")
    for i = #reqs, 1, -1 do
      if reqs[i].method == "PATCH" then return reqs[i].body end
    end
  end

  it("writes back a user read with businessPhones = [] as []", function()
    local user = util.expect_success(g.users.get, { id = fx.guest_upn, select = "businessPhones,jobTitle" })
    assert.is_nil(next(user.businessPhones))
    assert.is_true(json.is_array(user.businessPhones))
    assert.equal('[]', pretty.json(user.businessPhones))
    user.id = nil
    user.jobTitle = "Guest"
    util.expect_success(g.users.update, { id = fx.guest_upn, body = user })
    local body = last_patch_body()
    assert.truthy(body:find('"businessPhones":[]', 1, true), body)
    local state = emu:user_state(fx.guest_upn)
    assert.equal("Guest", state.jobTitle)
    assert.is_true(json.is_array(state.businessPhones))
  end)

  it("clears otherMails with graph.array()", function()
    local before = util.expect_success(g.users.get, { id = fx.guest_upn, select = "otherMails" })
    assert.equal(1, #before.otherMails)
    util.expect_success(g.users.update, { id = fx.guest_upn, body = { otherMails = graph.array() } })
    assert.equal('{"otherMails":[]}', last_patch_body())
    local after = util.expect_success(g.users.get, { id = fx.guest_upn, select = "otherMails" })
    assert.equal("[]", pretty.json(after.otherMails))
  end)

  it("has the msgraph tool print [] and integers", function()
    local q = util.shell_quote
    local lua = jit and "luajit" or ("lua" .. _VERSION:match("%d+%.%d+"))    -- luacheck: ignore 113
    local env = ("env -i PATH=%s AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s AZURE_CLIENT_SECRET=%s " ..
                 "GRAPH_URL=%s AZURE_AUTHORITY_HOST=%s"):format(q(os.getenv("PATH") or "/usr/bin:/bin"),
      q(emu.tenant_id), q(emu.client_id), q(emu.client_secret), q(emu.url), q(emu.url))
    local function msgraph(args)
      local out, ok = util.run(("%s %s %s %s </dev/null"):format(env, lua, q(util.root .. "/bin/msgraph"), args))
      assert(ok, out)
      return out
    end
    local out = msgraph("users get " .. q(fx.guest_upn) .. " --select businessPhones,otherMails --raw")
    assert.equal('{"businessPhones":[],"otherMails":["john.smith@fabrikam.com"]}',
                 (out:gsub('"@odata.context":"[^"]*",', ""):gsub("%s+$", "")))
    out = msgraph("users list --count --top 1 --select id --raw")
    assert.matches('"@odata.count":%d+[,}]', out)
  end)

  it("reads @odata.count as an integer and prints it without .0", function()
    local page = util.expect_success(g.users.list, { count = true, top = 1 })
    local count = page["@odata.count"]
    assert.is_number(count)
    if has_integers then assert.equal("integer", math.type(count)) end
    assert.matches('"@odata.count": %d+,\n', tostring(page))
    assert.falsy(tostring(page):find('"@odata.count": %d+%.0'))
  end)
end)
