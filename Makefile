# lua-msgraph: build the C core, run the emulator, the tests and the demo.
# Every variable can be overridden. The Lua is chosen with LUA:
#   make test                 Lua 5.4 (the module is ./graph/core.so)
#   make test LUA=luajit      LuaJIT 2.1 (or lua5.1, lua5.2, lua5.3)

LUA         ?= lua5.4
PYTHON      ?= python3
PKG_CONFIG  ?= pkg-config
BUSTED      ?= /usr/bin/busted

# LuaJIT speaks the 5.1 API; its headers and pkg-config name are its own.
LUA_VERSION := $(if $(filter luajit,$(LUA)),5.1,$(patsubst lua%,%,$(LUA)))
LUA_PC      := $(if $(filter luajit,$(LUA)),luajit,lua$(LUA_VERSION))
LUA_CFLAGS  ?= $(shell $(PKG_CONFIG) --cflags $(LUA_PC) 2>/dev/null || echo -I/usr/include/lua$(LUA_VERSION))
CURL_CFLAGS ?= $(shell $(PKG_CONFIG) --cflags libcurl 2>/dev/null || curl-config --cflags)
CURL_LIBS   ?= $(shell $(PKG_CONFIG) --libs libcurl 2>/dev/null || curl-config --libs)

VERSION     := 0.1.0
CC          ?= cc
CWARNS      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS      ?= -O2 -g
ALL_CFLAGS  := -std=c99 $(CWARNS) -fPIC -fvisibility=hidden -DGC_VERSION='"$(VERSION)"' \
               $(CFLAGS) $(LUA_CFLAGS) $(CURL_CFLAGS)
LIBFLAG     ?= -shared
# never link liblua into the module: the host interpreter provides it
LIBS        := $(CURL_LIBS) -lyajl -lcrypto -lpthread

SRCS    := $(wildcard csrc/*.c)
HDRS    := $(wildcard csrc/*.h)
BUILD   := build
# Lua 5.4's module stays where docs/api.md says (./graph/core.so); others apart.
CORE_DIR := $(if $(filter lua5.4,$(LUA)),.,$(BUILD)/$(LUA))
OBJ_DIR  := $(if $(filter lua5.4,$(LUA)),$(BUILD)/obj,$(BUILD)/$(LUA)/obj)
OBJS     := $(patsubst csrc/%.c,$(OBJ_DIR)/%.o,$(SRCS))
MODULE   := $(CORE_DIR)/graph/core.so

export LUA_PATH  := ./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;
export LUA_CPATH := ./$(CORE_DIR)/?.so;;

# Debian packages the project needs (build, tests, emulator, demo)
DEB_PKGS := gcc make pkg-config lua5.4 liblua5.4-dev libcurl4-openssl-dev libyajl-dev \
            lua-busted luarocks libssl-dev python3 openssl ca-certificates procps tmux \
            binutils   # nm: spec/rock_spec.lua reads the rock's exports
DEB_lua5.1  := lua5.1 liblua5.1-0-dev
DEB_lua5.2  := lua5.2 liblua5.2-dev
DEB_lua5.3  := lua5.3 liblua5.3-dev
DEB_luajit  := lua5.1   # luarocks --lua-version 5.1 in rock_spec; LuaJIT itself: DEB_LUAJIT
DEB_PKGS += $(DEB_$(LUA))

# The hosts of `make test-hosts` (issue 12): luv, cqueues and Copas on the
# Lua versions that have them, Neovim 0.7, nginx with its Lua module, and
# nghttpx as the HTTP/2 front. Installed without Recommends (Neovim's pull
# in X clipboard tools).
DEB_HOSTS := lua-luv lua-cqueues lua-copas neovim nginx libnginx-mod-http-lua nghttp2-proxy \
             lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev
# LuaJIT by its files, so Debian's luajit or OpenResty's luajit2 (the same
# paths) is accepted; luajit2 is what gets installed, because nginx's Lua
# module needs it (tools/deb-install.sh: PACKAGE=PATH).
DEB_LUAJIT := luajit2=/usr/bin/luajit libluajit2-5.1-dev=/usr/include/luajit-2.1/lua.h \
              libluajit2-5.1-dev=/usr/lib/*/libluajit-5.1.a

.PHONY: all deps test test-all test-hosts test-h2 demo emulator clean certs csdl env

all: $(MODULE)

$(OBJ_DIR)/%.o: csrc/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(MODULE): $(OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) -o $@ $(OBJS) $(LIBS) $(LDFLAGS)

# Install what is missing; as root with apt-get, else print the one command to
# run (tools/deb-install.sh; no system service is started or enabled).
# Other targets add theirs with `$(MAKE) deps DEB_PKGS="..."`.
deps:
	@sh tools/deb-install.sh deps $(DEB_PKGS)
	@sh tools/deb-install.sh --no-recommends deps $(DEB_HOSTS) $(DEB_LUAJIT)

certs: $(BUILD)/tls/ca.pem
$(BUILD)/tls/ca.pem: emulator/make-certs.sh
	sh emulator/make-certs.sh $(BUILD)/tls

# The processes a spec starts run this run's interpreter, graph/core.so and C
# hosts (read by spec/support/util.lua): $(call spec_env,LUA,CORE_DIR,HOST_DIR).
spec_env = GRAPH_SPEC_LUA="$(1)" GRAPH_SPEC_CPATH="$(CURDIR)/$(2)/?.so;;" \
           GRAPH_SPEC_HOSTS="$(CURDIR)/$(3)"

test: deps
	$(MAKE) all certs $(HOST_DIR)/threads_host $(HOST_DIR)/embed
	$(call spec_env,$(LUA),$(CORE_DIR),$(HOST_DIR)) $(LUA) $(BUSTED) --cpath="./$(CORE_DIR)/?.so"

# The host proofs (spec/hosts/, issue 12): every Lua's build, then
# spec/hosts/run.lua (its header: the convention, the
# environment, and how a sanitizer or valgrind variant reuses it).
# `make test-hosts HOSTS="smoke luv"` runs only those.
HOST_LUAS := lua5.4 lua5.3 lua5.2 lua5.1 luajit
test-hosts: deps
	@for l in $(HOST_LUAS); do $(MAKE) --no-print-directory all LUA=$$l || exit 1; done
	lua5.4 spec/hosts/run.lua $(HOSTS)

# The bulk and action specs again with the shared emulator's clients going
# through the HTTP/2 front (spec/support/h2front.lua: nghttpx, h2 over TLS).
# The fault specs stay direct: a proxy turns dropped connections into 502s.
H2_SPECS ?= spec/h2_spec.lua spec/bulk_spec.lua spec/users_spec.lua spec/presence_spec.lua spec/memberof_spec.lua
test-h2: deps
	$(MAKE) --no-print-directory all
	GRAPH_SPEC_H2=1 $(call spec_env,$(LUA),$(CORE_DIR),$(HOST_DIR)) $(LUA) $(BUSTED) \
	  --cpath="./$(CORE_DIR)/?.so" $(H2_SPECS)

# The suite on every Lua people embed.
test-all:
	@for l in lua5.4 lua5.3 lua5.2 lua5.1 luajit; do \
	  echo "== $$l"; $(MAKE) --no-print-directory test LUA=$$l || exit 1; done

emulator: deps
	$(MAKE) all
	$(PYTHON) emulator/server.py --port $${PORT:-8089}

demo: deps
	$(MAKE) all
	sh examples/demo.sh

clean:
	rm -rf $(BUILD) graph

# Regenerate the CSDL extract (emulator/graph-v1.0-extract.json) and
# lua/graph/schema.lua from Graph's v1.0 schema: make csdl CSDL=path/to/cleanMetadata.xml
csdl:
	@test -n "$(CSDL)" || { echo "csdl: give CSDL=path to Graph's v1.0 CSDL (msgraph-metadata clean_v10_metadata/cleanMetadata.xml)"; exit 2; }
	$(PYTHON) emulator/csdl_extract.py $(CSDL)

# `eval "$$(make -s env)"` (after `make`): this checkout's library, its built
# core and bin/msgraph on the current shell's paths, from any directory.
env:
	@echo 'export LUA_PATH="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;;"'
	@echo 'export LUA_CPATH="$(abspath $(CORE_DIR))/?.so;;"'
	@echo 'export PATH="$(CURDIR)/bin:$$PATH"'

# ---------------------------------------------------------------------------
# Memory and C safety

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_DIR   := $(BUILD)/asan
ASAN_OBJS  := $(patsubst csrc/%.c,$(ASAN_DIR)/obj/%.o,$(SRCS))

$(ASAN_DIR)/obj/%.o: csrc/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ASAN_FLAGS) -O1 -c $< -o $@

$(ASAN_DIR)/graph/core.so: $(ASAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(ASAN_FLAGS) -o $@ $(ASAN_OBJS) $(LIBS) $(LDFLAGS)

# The suite runs in an instrumented interpreter (spec/host/lua_host.c linked
# with Lua's static library), so the processes the specs start (emulator,
# luarocks, openssl) are not instrumented and need no LD_PRELOAD.
$(ASAN_DIR)/lua: spec/host/lua_host.c
	@mkdir -p $(dir $@)
	$(CC) -std=c99 -O1 -g $(ASAN_FLAGS) $(LUA_CFLAGS) -o $@ $< \
	  -Wl,-E -Wl,--whole-archive -l:liblua$(LUA_VERSION).a -Wl,--no-whole-archive -lm -ldl

# The host proofs on Lua 5.4 in the instrumented interpreter (spec/hosts/run.lua
# takes the interpreter and its core from the caller; the emulator, the
# HTTP/2 front and the runner stay uninstrumented).
test-hosts-asan: deps
	$(MAKE) all $(ASAN_DIR)/graph/core.so $(ASAN_DIR)/lua
	GRAPH_HOSTS_ONLY=lua5.4 GRAPH_HOSTS_LUA_lua5_4=$(CURDIR)/$(ASAN_DIR)/lua \
	GRAPH_HOSTS_CPATH_lua5_4="./$(ASAN_DIR)/?.so;;" \
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	lua5.4 spec/hosts/run.lua $(HOSTS)

# The loop proofs of the luv and timer hosts under memcheck (a few checks:
# valgrind is slow, and the proofs stop themselves within their time).
VALGRIND_HOST_CHECKS ?= users no_loop abandoned shared_token
test-hosts-valgrind: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="valgrind"
	$(MAKE) all
	GRAPH_HOSTS_ONLY=lua5.4 LOOP_PROOF_CHECKS="$(VALGRIND_HOST_CHECKS)" \
	GRAPH_HOSTS_WRAP="valgrind --quiet --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	  --suppressions=$(CURDIR)/spec/support/valgrind.supp" \
	lua5.4 spec/hosts/run.lua timer luv

test-asan: deps
	$(MAKE) $(ASAN_DIR)/graph/core.so $(ASAN_DIR)/lua certs $(ASAN_DIR)/threads_host $(ASAN_DIR)/embed
	LUA_CPATH="./$(ASAN_DIR)/?.so;;" $(call spec_env,$(CURDIR)/$(ASAN_DIR)/lua,$(ASAN_DIR),$(ASAN_DIR)) \
	ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	$(ASAN_DIR)/lua $(BUSTED)

# The C hosts embedding Lua that spec/embed_spec.lua runs (spec/host/threads_host.c,
# examples/embed.c), linked with this Lua's static library and exporting its
# symbols for graph/core.so: plain for `make test` (in build/host, or
# build/$(LUA)/host), ASan for test-asan, ThreadSanitizer for test-threads.
HOST_DIR  := $(if $(filter lua5.4,$(LUA)),$(BUILD)/host,$(BUILD)/$(LUA)/host)
LUA_STATIC := $(if $(filter luajit,$(LUA)),-l:libluajit-5.1.a,-l:liblua$(LUA_VERSION).a)
HOST_LINK := -Wl,-E -Wl,--whole-archive $(LUA_STATIC) -Wl,--no-whole-archive -lm -ldl -lpthread

define host_rules
$(1)/threads_host: spec/host/threads_host.c
$(1)/embed: examples/embed.c
$(1)/threads_host $(1)/embed:
	@mkdir -p $$(dir $$@)
	$$(CC) -std=c99 -O1 -g $(2) $$(LUA_CFLAGS) -o $$@ $$< $$(HOST_LINK)
endef

TSAN_DIR   := $(BUILD)/tsan
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
TSAN_OBJS  := $(patsubst csrc/%.c,$(TSAN_DIR)/obj/%.o,$(SRCS))

$(TSAN_DIR)/obj/%.o: csrc/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TSAN_FLAGS) -O1 -c $< -o $@

$(TSAN_DIR)/graph/core.so: $(TSAN_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LIBFLAG) $(TSAN_FLAGS) -o $@ $(TSAN_OBJS) $(LIBS) $(LDFLAGS)

$(eval $(call host_rules,$(HOST_DIR),))
$(eval $(call host_rules,$(ASAN_DIR),$(ASAN_FLAGS)))
$(eval $(call host_rules,$(TSAN_DIR),$(TSAN_FLAGS)))

test-threads: deps
	$(MAKE) all $(TSAN_DIR)/graph/core.so $(TSAN_DIR)/threads_host $(TSAN_DIR)/embed
	$(call spec_env,$(LUA),$(TSAN_DIR),$(TSAN_DIR)) $(LUA) $(BUSTED) spec/embed_spec.lua

SOAK_REQUESTS ?= 20000
soak: deps
	$(MAKE) all
	$(LUA) spec/soak.lua $(SOAK_REQUESTS)

VALGRIND_SPECS ?= spec/core_spec.lua spec/errors_spec.lua spec/users_spec.lua spec/tls_spec.lua
test-valgrind: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="valgrind"
	$(MAKE) all certs
	$(call spec_env,$(LUA),$(CORE_DIR),$(HOST_DIR)) valgrind --quiet --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	  --suppressions=spec/support/valgrind.supp \
	  $(LUA) $(BUSTED) $(VALGRIND_SPECS)

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_TARGETS := headers retry_after encoders json
FUZZ_FLAGS   := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                $(LUA_CFLAGS) $(CURL_CFLAGS)

$(BUILD)/fuzz/fuzz_%: fuzz/fuzz_%.c $(SRCS) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< csrc/gc_util.c csrc/gc_headers.c csrc/gc_jwt.c \
	  csrc/gc_json.c csrc/gc_compat.c csrc/gc_display.c -llua$(LUA_VERSION) -lyajl -lcrypto -lm

fuzz-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="clang-14 libfuzzer-14-dev valgrind"

# Each target runs for FUZZ_SECONDS on a copy of its seed corpus.
fuzz: deps fuzz-deps $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_TARGETS))
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf $(BUILD)/fuzz/corpus-$$t && cp -r fuzz/corpus/$$t $(BUILD)/fuzz/corpus-$$t && \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s" && \
	  if ! $(BUILD)/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(BUILD)/fuzz/corpus-$$t fuzz/corpus/$$t > $(BUILD)/fuzz/$$t.log 2>&1; then \
	    tail -40 $(BUILD)/fuzz/$$t.log; exit 1; fi; \
	  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" $(BUILD)/fuzz/$$t.log; \
	done

.PHONY: test-asan test-hosts-asan test-hosts-valgrind test-valgrind test-threads soak fuzz fuzz-deps

# ---------------------------------------------------------------------------
# Lint and docs

C_LINT_FILES := csrc/*.c csrc/*.h fuzz/*.c spec/host/*.c examples/*.c
lint-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="lua-check cppcheck clang-tidy clang-format"

lint: deps lint-deps
	luacheck --no-color -q .
	cppcheck --enable=warning,style,performance,portability --std=c99 --error-exitcode=1 \
	  --quiet --inline-suppr -I csrc csrc/
	@for f in csrc/*.c; do \
	  clang-tidy --quiet $$f -- -std=c99 $(LUA_CFLAGS) $(CURL_CFLAGS) 2>/dev/null || exit 1; done
	clang-format --dry-run -Werror $(C_LINT_FILES)
	@echo "lint: clean"

# The reference is docs/graph.ldoc and docs/core.ldoc (docs/config.ld says
# why). Debian's ldoc finds markdown.lua only on Lua 5.1; any line beyond
# LDoc's three progress lines is a warning and fails the target.
docs: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="lua-ldoc lua-markdown lua5.1"
	@out=$$(lua5.1 "$$(command -v ldoc)" -c docs/config.ld . 2>&1); echo "$$out"; \
	  if echo "$$out" | grep -v -e '^reading configuration' -e '^changing to directory' \
	    -e '^output written' | grep -q .; then echo "docs: LDoc warned"; exit 1; fi
	@echo "docs: build/docs/index.html"

.PHONY: lint lint-deps docs

# ---------------------------------------------------------------------------
# REPL (begin): `make repl` opens lua5.4 -i with `graph` and a client `g`
# (examples/repl.lua: the bundled emulator, or a tenant from AZURE_*).
.PHONY: repl
repl: deps
	@$(MAKE) --no-print-directory all
	$(LUA) -i examples/repl.lua
# REPL (end)

# ---------------------------------------------------------------------------
# Benchmark (bench/, see bench/README.md): `make bench` prints a table and
# writes bench/results.md. Not part of `make test` or CI.
# lua-cjson: the peer rows (LuaSocket/LuaSec + lua-cjson, curl + lua-cjson) only
# lua-luv (the luv loop row) comes with `make deps` (DEB_HOSTS)
BENCH_DEB_PKGS := nginx-light wrk lua-socket lua-sec lua-cjson curl util-linux time valgrind

bench-deps: deps
	@sh bench/deps.sh $(BENCH_DEB_PKGS)

bench: bench-deps
	$(MAKE) all LUA=lua5.4
	LUA=lua5.4 bash bench/run.sh

# only the callgrind counts (nginx + valgrind, about 30 s; see bench/README.md)
bench-instructions:
	$(MAKE) all LUA=lua5.4
	BENCH_ONLY=instructions LUA=lua5.4 bash bench/run.sh

# only the luv loop row (issue 12: nginx + valgrind, about 30 s)
bench-loop:
	$(MAKE) all LUA=lua5.4
	BENCH_ONLY=loop LUA=lua5.4 bash bench/run.sh

.PHONY: bench bench-deps bench-instructions bench-loop
# --- end of benchmark block --------------------------------------------------
