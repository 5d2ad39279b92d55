-- The emulator's entities against Graph's v1.0 schema (emulator/graph-v1.0-extract.json,
-- written from Microsoft's CSDL by emulator/csdl_extract.py): every property it
-- emits must be declared, of the JSON type its EDM type gives, and every enum
-- value a member. Fails when the emulator drifts from the extract.
local json = require "graph.json"
local util = require "support.util"

local extract = json.decode((assert(util.read_file(util.root .. "/emulator/graph-v1.0-extract.json"))))
local NS = "microsoft.graph."

local function struct(name)
  return extract.entityTypes[name] or extract.complexTypes[name]
end

local function is_array(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local PRIMITIVE = {
  ["Edm.String"] = function(v) return type(v) == "string" end,
  ["Edm.Boolean"] = function(v) return type(v) == "boolean" end,
  ["Edm.Int32"] = function(v) return type(v) == "number" and v % 1 == 0 and math.abs(v) < 2^31 end,
  ["Edm.Int64"] = function(v) return type(v) == "number" and v % 1 == 0 end,
  ["Edm.Double"] = function(v) return type(v) == "number" end,
  ["Edm.Guid"] = function(v) return type(v) == "string" and util.is_guid(v) end,
  ["Edm.DateTimeOffset"] = function(v)
    return type(v) == "string" and v:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.?%d*Z$") ~= nil
  end,
  ["Edm.TimeOfDay"] = function(v) return type(v) == "string" and v:match("^%d%d:%d%d:%d%d%.?%d*$") ~= nil end,
}

-- Problems of `value` as an instance of EDM type `t`, appended to `out` ("path: what").
local function check(value, t, path, out)
  local inner = t:match("^Collection%((.*)%)$")
  if inner then
    if type(value) ~= "table" or not is_array(value) then
      out[#out + 1] = ("%s: %s is not an array"):format(path, t)
      return
    end
    for i, v in ipairs(value) do
      if v == json.null then out[#out + 1] = ("%s[%d]: null in %s"):format(path, i, t)
      else check(v, inner, ("%s[%d]"):format(path, i), out) end
    end
    return
  end
  if PRIMITIVE[t] then
    if not PRIMITIVE[t](value) then
      out[#out + 1] = ("%s: %s is not a valid %s"):format(path, json.encode(value), t)
    end
    return
  end
  local enum = extract.enumTypes[t]
  if enum then
    local members = {}
    for _, m in ipairs(enum.members) do members[m] = true end
    if type(value) ~= "string" or not members[value] then
      out[#out + 1] = ("%s: %s is not a member of %s"):format(path, json.encode(value), t)
    end
    return
  end
  local s = struct(t)
  if not s then
    out[#out + 1] = ("%s: type %s is not in the extract"):format(path, t)
    return
  end
  if type(value) ~= "table" or (next(value) ~= nil and is_array(value)) then
    out[#out + 1] = ("%s: %s is not an object"):format(path, t)
    return
  end
  local annotated = value["@odata.type"]
  if annotated then                                   -- a derived type names itself
    local name = tostring(annotated):gsub("^#", "")
    if not struct(name) then
      out[#out + 1] = ("%s: @odata.type %s is not in the extract"):format(path, tostring(annotated))
      return
    end
    s = struct(name)
  end
  for k, v in pairs(value) do
    if not tostring(k):find("@", 1, true) then
      local p = s.properties[k]
      if not p then
        -- open types: a dictionary takes any name; an open entity only extension_* ones
        if not (s.openType and (next(s.properties) == nil or tostring(k):find("^extension_"))) then
          out[#out + 1] = ("%s.%s: not a property of %s in Graph v1.0"):format(path, k, annotated or t)
        end
      elseif v == json.null then
        if not p.nullable then out[#out + 1] = ("%s.%s: null, but %s is not nullable"):format(path, k, p.type) end
      else
        check(v, p.type, path .. "." .. k, out)
      end
    end
  end
end

local function property_names(name)
  local names = {}
  for k in pairs(struct(name).properties) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ",")
end

local emulator = require "support.emulator"
local fx = require "support.fixtures"
local emu, g

-- A reset emulator and a fresh client for each describe block below.
local function fresh()
  emu = emulator.shared()
  emu:reset()
  g = emu:client()
end

describe("emulator entities against the Graph v1.0 CSDL extract", function()
  setup(fresh)

  local function get(path, query)
    local doc, err = g.request{ path = path, query = query }
    assert(doc, tostring(err))
    return doc
  end

  local function expect_valid(items, t, label)
    local problems = {}
    for i, item in ipairs(items) do check(item, t, ("%s[%d]"):format(label, i), problems) end
    assert.are.same({}, problems)
    assert.is_true(#items > 0, label .. ": nothing to check")
  end

  local users
  it("users, with every property selected", function()
    users = get("/users", { ["$select"] = property_names(NS .. "user"), ["$top"] = 999 }).value
    expect_valid(users, NS .. "user", "users")
  end)

  it("one user by id, default properties and $select=*", function()
    expect_valid({ get("/users/" .. users[1].id) }, NS .. "user", "user")
    expect_valid({ get("/users/" .. users[1].id, { ["$select"] = "*" }) }, NS .. "user", "user*")
  end)

  it("presence, single and bulk", function()
    local ids = {}
    for i, u in ipairs(users) do ids[i] = u.id end
    expect_valid({ get("/users/" .. ids[1] .. "/presence") }, NS .. "presence", "presence")
    local bulk = assert(g.request{ method = "POST", path = "/communications/getPresencesByUserId",
                                   body = { ids = ids } })
    expect_valid(bulk.value, NS .. "presence", "presences")
  end)

  it("memberOf: groups, directory roles and administrative units", function()
    local select = {}
    for _, t in ipairs{ "group", "directoryRole", "administrativeUnit" } do
      select[#select + 1] = property_names(NS .. t)
    end
    local page = get("/users/" .. fx.lynne_id .. "/memberOf",
      { ["$select"] = table.concat(select, ","), ["$top"] = 999 })
    local seen = {}
    for _, o in ipairs(page.value) do seen[o["@odata.type"]] = true end
    for _, t in ipairs{ "group", "directoryRole", "administrativeUnit" } do
      assert.is_true(seen["#" .. NS .. t], t .. " not among the members")
    end
    expect_valid(page.value, NS .. "directoryObject", "memberOf")
  end)

  it("security alerts (alerts_v2), evidence included", function()
    expect_valid(get("/security/alerts_v2", { ["$top"] = 999 }).value, NS .. "security.alert", "alerts")
  end)

  it("subscribed SKUs", function()
    expect_valid(get("/subscribedSkus").value, NS .. "subscribedSku", "skus")
  end)

  it("the checker itself refuses drift", function()
    local problems = {}
    check({ id = "x", refreshTokensValidFromDateTime = "2024-01-01T00:00:00Z", accountEnabled = "yes",
            businessPhones = {} }, NS .. "user", "u", problems)
    check({ id = "a", determination = "compromisedUser" }, NS .. "security.alert", "a", problems)
    check({ id = "p", workLocation = { workLocationType = "moon", source = "manual" } },
      NS .. "presence", "p", problems)
    table.sort(problems)
    assert.are.same({
      "a.determination: \"compromisedUser\" is not a member of microsoft.graph.security.alertDetermination",
      "p.workLocation.workLocationType: \"moon\" is not a member of microsoft.graph.workLocationType",
      "u.accountEnabled: \"yes\" is not a valid Edm.Boolean",
      "u.refreshTokensValidFromDateTime: not a property of microsoft.graph.user in Graph v1.0",
    }, problems)
  end)
end)

describe("writes and their content type, as Graph takes them", function()
  before_each(fresh)

  it("revoke_sessions POSTs no body and no body type (libcurl's form type is removed)", function()
    assert.is_true((util.expect_success(g.users.revoke_sessions, { id = fx.adele_id })))
    local posts = emu:requests("revokeSignInSessions$")
    assert.are.equal(1, #posts)
    assert.is_nil(posts[1].headers["content-type"])
    assert.are.equal("0", posts[1].headers["content-length"])
  end)

  it("the emulator refuses a write whose Content-Type is not JSON (400 Request_BadRequest)", function()
    for _, case in ipairs{
      { "POST", "/users/" .. fx.adele_id .. "/revokeSignInSessions", nil, "application/x-www-form-urlencoded" },
      { "PATCH", "/users/" .. fx.adele_id, '{"jobTitle":"x"}', "text/plain" },
      { "POST", "/communications/getPresencesByUserId", '{"ids":[]}', "application/octet-stream" },
    } do
      local doc, err = g.request{ method = case[1], path = case[2], body = case[3],
                                  headers = { ["Content-Type"] = case[4] } }
      assert.is_nil(doc, case[2])
      assert.are.equal(400, err.status_code)
      assert.are.equal("Request_BadRequest", err.code)
      assert.truthy(err.message:find("matches the content type '" .. case[4] .. "'", 1, true), err.message)
    end
    local user = util.expect_success(g.users.get, { id = fx.adele_id, select = "jobTitle" })
    assert.are_not.equal("x", user.jobTitle)
  end)

  it("PATCH takes the CSDL's types: a null for a non-nullable property is refused", function()
    for _, body in ipairs{ { deviceEnrollmentLimit = "5" }, { birthday = json.null },
                           { businessPhones = json.null }, { mailboxSettings = { timeZone = "UTC" } } } do
      local err = util.expect_failure(g.users.update, { id = fx.adele_id, body = body })
      assert.are.equal(400, err.status_code, json.encode(body))
    end
    util.expect_success(g.users.update, { id = fx.adele_id, body = { deviceEnrollmentLimit = 1000 } })
  end)
end)

describe("$filter operators and $search terms, as Graph's directory takes them", function()
  setup(fresh)

  it("endsWith only on mail, userPrincipalName, otherMails and proxyAddresses, as an advanced query", function()
    local list = util.expect_success(g.users.list, { filter = "endswith(mail,'@contoso.onmicrosoft.com')" })
    assert.is_true(#list.value > 1)
    util.expect_success(g.users.list, { filter = "endswith(userPrincipalName,'.com')" })
    util.expect_success(g.users.list, { filter = "proxyAddresses/any(p:endswith(p,'@contoso.com'))" })
    local err = util.expect_failure(g.users.list, { filter = "endswith(displayName,'Vance')" })
    assert.are.equal(400, err.status_code)
    assert.are.equal("Request_UnsupportedQuery", err.code)
    assert.truthy(err.message:find("property 'displayName' of resource 'User'", 1, true), err.message)
    -- without ConsistencyLevel and $count, endsWith is refused even where it is allowed
    local doc
    doc, err = g.request{ path = "/users", query = { ["$filter"] = "endswith(mail,'.com')" } }
    assert.is_nil(doc)
    assert.are.equal("Request_UnsupportedQuery", err.code)
    assert.truthy(err.message:find("Operator 'endsWith' is not supported", 1, true), err.message)
  end)

  it("assignedLicenses/any(x:x/skuId eq GUID) is supported", function()
    local user = util.expect_success(g.users.get, { id = fx.adele_id, select = "assignedLicenses" })
    local sku = user.assignedLicenses[1].skuId
    local list = util.expect_success(g.users.list, { filter = ("assignedLicenses/any(x:x/skuId eq %s)"):format(sku),
                                                     select = "id" })
    local ids = {}
    for _, u in ipairs(list.value) do ids[u.id] = true end
    assert.is_true(ids[fx.adele_id])
  end)

  it("a complex property's member: employeeOrgData/division", function()
    local user = util.expect_success(g.users.get, { id = fx.adele_id, select = "employeeOrgData" })
    local list = util.expect_success(g.users.list, { select = "id,employeeOrgData",
      filter = ("employeeOrgData/division eq '%s'"):format(user.employeeOrgData.division) })
    assert.is_true(#list.value >= 1)
    for _, u in ipairs(list.value) do assert.are.equal(user.employeeOrgData.division, u.employeeOrgData.division) end
  end)

  it("a property the directory does not filter on is Request_UnsupportedQuery", function()
    for _, filter in ipairs{ "aboutMe eq 'x'", "mailboxSettings/timeZone eq 'UTC'", "startswith(accountEnabled,'t')" } do
      local err = util.expect_failure(g.users.list, { filter = filter })
      assert.are.equal(400, err.status_code, filter)
      assert.is_truthy(err.code == "Request_UnsupportedQuery" or err.code == "BadRequest", filter)
    end
    local err = util.expect_failure(g.users.list, { filter = "aboutMe eq 'x'" })
    assert.are.equal("Request_UnsupportedQuery", err.code)
  end)

  it("$search takes several quoted terms joined by OR and AND", function()
    local doc = assert(g.request{ path = "/users", headers = { ConsistencyLevel = "eventual" },
      query = { ["$search"] = '"displayName:Adele" OR "mail:lynne"', ["$select"] = "id" } })
    local ids = {}
    for _, u in ipairs(doc.value) do ids[u.id] = true end
    assert.is_true(ids[fx.adele_id] and ids[fx.lynne_id])
    assert.are.equal(2, #doc.value)
    doc = assert(g.request{ path = "/users", headers = { ConsistencyLevel = "eventual" },
      query = { ["$search"] = '"displayName:Adele" AND "mail:lynne"', ["$select"] = "id" } })
    assert.are.equal(0, #doc.value)
  end)
end)
