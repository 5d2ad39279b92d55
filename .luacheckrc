-- luacheck configuration (make lint)
std = "max"
max_line_length = 110
include_files = { "lua/**/*.lua", "spec/**/*.lua", "examples/**/*.lua", "bench/**/*.lua", "bin/msgraph",
                  "rockspec/*.rockspec", ".busted", ".luacheckrc" }
exclude_files = { "bench/js/node_modules" }
not_globals = { "string.len", "table.getn" }

files["spec"] = { std = "+busted", max_line_length = 140 }
files["bench"] = { max_line_length = 140 }
-- the REPL bootstrap defines globals on purpose: they are the REPL's variables
files["examples/repl.lua"] = { allow_defined_top = true }
files["rockspec"] = { std = "+rockspec" }
stds.rockspec = {
  globals = { "rockspec_format", "package", "version", "source", "description", "dependencies",
              "external_dependencies", "build", "test", "test_dependencies" },
}
files[".busted"] = { std = "+busted" }
