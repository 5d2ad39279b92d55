# lua-msgraph: build the C core, run the emulator, the tests and the demo.
# Every variable can be overridden: make LUA=lua5.4 LUA_VERSION=5.4 ...

LUA_VERSION ?= 5.4
LUA         ?= lua$(LUA_VERSION)
PYTHON      ?= python3
PKG_CONFIG  ?= pkg-config
BUSTED      ?= /usr/bin/busted

LUA_CFLAGS  ?= $(shell $(PKG_CONFIG) --cflags lua$(LUA_VERSION) 2>/dev/null || echo -I/usr/include/lua$(LUA_VERSION))
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
LIBS        := $(CURL_LIBS) -lcrypto -lpthread

SRCS    := $(wildcard csrc/*.c)
HDRS    := $(wildcard csrc/*.h)
BUILD   := build
OBJS    := $(patsubst csrc/%.c,$(BUILD)/obj/%.o,$(SRCS))
MODULE  := graph/core.so

export LUA_PATH  := ./lua/?.lua;./lua/?/init.lua;./spec/?.lua;;
export LUA_CPATH := ./?.so;;

# Debian packages the project needs (build, tests, emulator, demo)
DEB_PKGS := gcc make pkg-config lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson \
            lua-busted luarocks libssl-dev python3 openssl ca-certificates procps

.PHONY: all deps test demo emulator clean certs

all: $(MODULE)

$(BUILD)/obj/%.o: csrc/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(MODULE): $(OBJS)
	@mkdir -p graph
	$(CC) $(LIBFLAG) -o $@ $(OBJS) $(LIBS) $(LDFLAGS)

# Install what is missing; as root with apt-get, else print the one command to run.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "deps: run as root: apt-get update && apt-get install -y$$missing"; exit 1; fi

certs: $(BUILD)/tls/ca.pem
$(BUILD)/tls/ca.pem: emulator/make-certs.sh
	sh emulator/make-certs.sh $(BUILD)/tls

test: deps
	$(MAKE) all certs
	$(LUA) $(BUSTED)

emulator: deps
	$(MAKE) all
	$(PYTHON) emulator/server.py --port $${PORT:-8089}

demo: deps
	$(MAKE) all
	sh examples/demo.sh

clean:
	rm -rf $(BUILD) graph
