-- lua-msgraph: Microsoft Graph users and Teams presence for Lua, on libcurl.
local package_version = "scm"
local rockspec_revision = "1"

rockspec_format = "3.0"
package = "lua-msgraph"
version = package_version .. "-" .. rockspec_revision

source = {
  url = "git+https://github.com/lua-msgraph/lua-msgraph.git",
}

description = {
  summary = "Microsoft Graph (Entra ID users, Teams presence) from Lua, with a libcurl C core",
  detailed = [[
    Get and update Entra ID users, read their group and role memberships and
    their Teams presence through Microsoft Graph. A C core on libcurl keeps
    connections alive, verifies TLS, runs the OAuth2 grants and caches tokens;
    the Lua API takes and returns plain tables (JSON decoded in C with yajl).
  ]],
  license = "MIT",
  labels = { "microsoft-graph", "entra", "oauth2", "http", "libcurl" },
}

dependencies = {
  "lua >= 5.1, < 5.5",
}

-- Only the library is probed: Debian puts curl/curl.h under a multiarch
-- include directory that luarocks does not search but the compiler does.
external_dependencies = {
  CURL = { library = "curl" },
  CRYPTO = { library = "crypto" },      -- OpenSSL libcrypto: certificate assertions
  YAJL = { header = "yajl/yajl_parse.h" }, -- JSON (Debian: libyajl-dev)
}

test_dependencies = { "busted" }
test = { type = "busted" }

build = {
  type = "builtin",
  modules = {
    ["graph"] = "lua/graph/init.lua",
    ["graph.args"] = "lua/graph/args.lua",
    ["graph.batch"] = "lua/graph/batch.lua",
    ["graph.bulk"] = "lua/graph/bulk.lua",
    ["graph.check"] = "lua/graph/check.lua",
    ["graph.cli"] = "lua/graph/cli.lua",
    ["graph.client"] = "lua/graph/client.lua",
    ["graph.compat"] = "lua/graph/compat.lua",
    ["graph.driver"] = "lua/graph/driver.lua",
    ["graph.errors"] = "lua/graph/errors.lua",
    ["graph.json"] = "lua/graph/json.lua",
    ["graph.loop"] = "lua/graph/loop.lua",
    ["graph.loop.coro"] = "lua/graph/loop/coro.lua",
    ["graph.loop.cqueues"] = "lua/graph/loop/cqueues.lua",
    ["graph.loop.luv"] = "lua/graph/loop/luv.lua",
    ["graph.loop.nvim"] = "lua/graph/loop/nvim.lua",
    ["graph.loop.timer"] = "lua/graph/loop/timer.lua",
    ["graph.nginx"] = "lua/graph/nginx.lua",
    ["graph.options"] = "lua/graph/options.lua",
    ["graph.pacing"] = "lua/graph/pacing.lua",
    ["graph.pipeline"] = "lua/graph/pipeline.lua",
    ["graph.policy"] = "lua/graph/policy.lua",
    ["graph.pretty"] = "lua/graph/pretty.lua",
    ["graph.presence"] = "lua/graph/presence.lua",
    ["graph.request"] = "lua/graph/request.lua",
    ["graph.schema"] = "lua/graph/schema.lua",
    ["graph.security"] = "lua/graph/security.lua",
    ["graph.users"] = "lua/graph/users.lua",
    ["graph.wait"] = "lua/graph/wait.lua",
    ["graph.core"] = {
      sources = {
        "csrc/graph_core.c", "csrc/gc_compat.c", "csrc/gc_err.c", "csrc/gc_headers.c",
        "csrc/gc_hlist.c", "csrc/gc_http.c", "csrc/gc_json.c", "csrc/gc_jwt.c", "csrc/gc_multi.c",
        "csrc/gc_oauth.c", "csrc/gc_session.c", "csrc/gc_util.c", "csrc/gc_display.c",
        "csrc/gc_options.c",
      },
      defines = { 'GC_VERSION="0.1.0"' },
      incdirs = { "$(CURL_INCDIR)", "$(CRYPTO_INCDIR)", "$(YAJL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(CRYPTO_LIBDIR)", "$(YAJL_LIBDIR)" },
      libraries = { "curl", "yajl", "crypto", "pthread" },
    },
  },
  copy_directories = { "examples" },
  install = {
    bin = { ["msgraph"] = "bin/msgraph" },
  },
}
