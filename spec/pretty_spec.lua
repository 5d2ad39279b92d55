-- graph.pretty: readable JSON for the REPL and the msgraph tool.
local pretty = require "graph.pretty"
local json = require "graph.json"

describe("pretty.json", function()
  it("indents nested objects and arrays by two spaces, keys sorted", function()
    local v = { name = "Adele", tags = { "a", "b" }, manager = { id = "1", ["@odata.type"] = "#user" } }
    assert.are.equal(table.concat({
      '{',
      '  "manager": {',
      '    "@odata.type": "#user",',
      '    "id": "1"',
      '  },',
      '  "name": "Adele",',
      '  "tags": [',
      '    "a",',
      '    "b"',
      '  ]',
      '}' }, "\n"), pretty.json(v))
  end)

  it("writes an empty array as [] and an empty object as {}", function()
    assert.are.equal("[]", pretty.json(json.array()))
    local doc = json.decode('{"businessPhones":[],"extensions":{},"nested":[[],{}]}')
    assert.are.equal('{\n  "businessPhones": [],\n  "extensions": {},\n  "nested": [\n    [],\n    {}\n  ]\n}',
      pretty.json(doc))
    assert.are.equal('{"businessPhones":[],"extensions":{},"nested":[[],{}]}', pretty.json(doc, { compact = true }))
    assert.are.equal("[]", tostring(doc.businessPhones))        -- a decoded array prints as JSON
  end)

  it("writes integers without .0, as read from Graph", function()
    local doc = json.decode('{"@odata.count":257,"big":12345678901234567890,"f":2.5}')
    assert.are.equal('{"@odata.count":257,"big":1.2345678901234567e+19,"f":2.5}', pretty.json(doc, { compact = true }))
  end)

  it("writes unmarked empty tables as {} and scalars on their own", function()
    assert.are.equal("{}", pretty.json({}))
    assert.are.equal('{\n  "value": {}\n}', pretty.json({ value = {} }))
    assert.are.equal("[\n  {},\n  {}\n]", pretty.json({ {}, {} }))
    assert.are.equal('"x"', pretty.json("x"))
    assert.are.equal("true", pretty.json(true))
    assert.are.equal("null", pretty.json(nil))
    assert.are.equal("1.5", pretty.json(1.5))
  end)

  it("writes json.null as null, in objects and in arrays with holes", function()
    assert.are.equal('{\n  "officeLocation": null\n}', pretty.json({ officeLocation = json.null }))
    assert.are.equal("[\n  1,\n  null,\n  3\n]", pretty.json({ 1, nil, 3 }))
    assert.are.equal("[\n  null\n]", pretty.json({ json.null }))
  end)

  it("decides arrays against objects as json.encode does", function()
    -- mixed keys: an object, numeric keys as strings
    assert.are.equal('{\n  "1": "a",\n  "x": "b"\n}', pretty.json({ "a", x = "b" }))
    -- an excessively sparse array (json.encode refuses any sparse one) is an object here
    assert.are.equal('{\n  "1": 1,\n  "20": 2\n}', pretty.json({ [1] = 1, [20] = 2 }))
    for _, v in ipairs{ { 1, 2, 3 }, { a = { 1, { b = 2 } } }, { a = json.array(), b = {} } } do
      assert.are.same(json.decode(json.encode(v)), json.decode(pretty.json(v)))
    end
  end)

  it("escapes strings exactly as JSON requires, and they decode back", function()
    local s = 'quote " backslash \\ slash / nl \n tab \t cr \r ctl \1 del \127 ü €'
    local out = pretty.json({ s = s })
    assert.are.equal('{\n  "s": "quote \\" backslash \\\\ slash / nl \\n tab \\t cr \\r ctl \\u0001' ..
      ' del \127 ü €"\n}', out)  -- DEL needs no escape (RFC 8259)
    assert.are.equal(s, json.decode(out).s)
    -- a backslash before a slash stays a backslash and a slash
    assert.are.equal('"\\\\/"', pretty.json("\\/"))
    assert.are.equal("\\/", json.decode(pretty.json("\\/")))
  end)

  it("writes integers exactly", function()
    if math.type then                                   -- Lua 5.3+ integers
      assert.are.equal("9007199254740993", pretty.json(math.tointeger(2 ^ 53) + 1))
      assert.are.equal("9223372036854775807", pretty.json(math.maxinteger))
    end
    assert.are.equal("9007199254740992", pretty.json(2 ^ 53))
    assert.are.equal("-3", pretty.json(-3))
    assert.are.equal("0.1", pretty.json(0.1))
  end)

  it("writes one line without spaces with { compact = true }", function()
    assert.are.equal('{"a":[1,2],"b":{"c":null}}',
      pretty.json({ b = { c = json.null }, a = { 1, 2 } }, { compact = true }))
  end)

  it("never raises: functions, NaN and cycles become strings or null", function()
    local t = { f = print, n = 0 / 0 }
    t.self = t
    local out = pretty.json(t)
    assert.truthy(out:find('"self": "<cycle>"', 1, true))
    assert.truthy(out:find('"n": null', 1, true))
    assert.truthy(out:find('"f": "function', 1, true))
    -- a table seen twice but not in a cycle is written twice
    local shared = { 1 }
    assert.are.equal('{"a":[1],"b":[1]}', pretty.json({ a = shared, b = shared }, { compact = true }))
  end)
end)

describe("pretty.document", function()
  local function sample()
    return { displayName = "Adele Vance", id = "87d3", businessPhones = { "+1 425 555 0109" },
             officeLocation = json.null }
  end

  it("prints the table as pretty JSON through tostring", function()
    local doc = pretty.document(sample())
    assert.are.equal(pretty.json(sample()), tostring(doc))
    assert.truthy(tostring(doc):find('^{\n  "businessPhones": %[\n    "%+1 425 555 0109"\n  %],'))
  end)

  it("returns the same table, whose metatable has only __tostring and __name", function()
    local t = sample()
    assert.are.equal(t, pretty.document(t))
    local mt = getmetatable(t)
    local keys = {}
    for k in pairs(mt) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.are.same({ "__name", "__tostring" }, keys)
    assert.are.equal("graph.document", mt.__name)
    assert.is_true(pretty.is_document(t))
  end)

  it("leaves pairs, ipairs, # and json.encode as on a plain table", function()
    local doc, plain = pretty.document(sample()), sample()
    local n = 0
    for k, v in pairs(doc) do
      n = n + 1
      if v ~= json.null and type(v) ~= "table" then assert.are.equal(plain[k], v) end
    end
    assert.are.equal(4, n)
    local list = pretty.document({ "a", "b", "c" })
    local seen = {}
    for i, v in ipairs(list) do seen[i] = v end
    assert.are.same({ "a", "b", "c" }, seen)
    assert.are.equal(3, #list)
    assert.are.same(json.decode(json.encode(plain)), json.decode(json.encode(doc)))
    assert.are.equal('["a","b","c"]', json.encode(list))
  end)

  it("keeps a metatable already set, and passes non-tables through", function()
    local mt = { __tostring = function() return "mine" end }
    local t = setmetatable({}, mt)
    assert.are.equal(mt, getmetatable(pretty.document(t)))
    assert.are.equal("mine", tostring(t))
    assert.are.equal("x", pretty.document("x"))
    assert.is_nil(pretty.document(nil))
    assert.is_true(pretty.document(true))
  end)
end)
