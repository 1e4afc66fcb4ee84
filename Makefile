# berth build.  `make` builds into build/, `make SAN=1` builds an
# ASan+UBSan tree into build/asan/, `make check` runs the whole test suite
# against both, `make install` copies the binaries to $(PREFIX)/bin.

PREFIX ?= /usr/local
CC ?= gcc
SAN ?= 0
VERSION := 0.1.0
COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# The release runtime is a stripped static PIE: exec and dynamic linking
# happen twice per container start (the memfd re-exec), and the memfd copy
# is of the whole file, so size and load time are on the hot path.  The
# Debian libraries are linked in from their .a archives.
ifeq ($(SAN),1)
BUILD ?= build/asan
OPT := -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
SANLD := -fsanitize=address,undefined
RUNTIME_LD :=
else
BUILD ?= build
OPT := -O2 -D_FORTIFY_SOURCE=3
SANLD :=
RUNTIME_LD := -static-pie -s
endif

# The runtime links only what it needs (it is static); the daemon and the
# image store add archive, crypto and HTTP libraries.
RUNTIME_PKGS := jansson libseccomp libcap
DAEMON_PKGS := $(RUNTIME_PKGS) libarchive libcrypto libmicrohttpd libcurl libmnl libnftables ldns
REGISTRY_PKGS := jansson libssl libcrypto libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(DAEMON_PKGS))
PKG_LIBS := $(shell pkg-config --libs $(RUNTIME_PKGS))
DAEMON_LIBS := $(shell pkg-config --libs $(DAEMON_PKGS))

CFLAGS := -std=gnu11 $(OPT) -Wall -Wextra -Werror -Wno-unused-parameter \
	-fstack-protector-strong -fPIE -fno-strict-aliasing \
	-D_GNU_SOURCE -DBERTH_VERSION='"$(VERSION)"' -DBERTH_COMMIT='"$(COMMIT)"' \
	-Isrc $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(SANLD) $(EXTRA_LDFLAGS)

COMMON_SRC := $(wildcard src/common/*.c)
RUNTIME_SRC := $(wildcard src/runtime/*.c)
RUNTIME_CLI_SRC := $(wildcard src/cli/runtime/*.c)
IMAGE_SRC := $(wildcard src/image/*.c)
DAEMON_SRC := $(wildcard src/daemon/*.c src/build/*.c)
NET_SRC := $(wildcard src/net/*.c)
BERTHD_CLI_SRC := $(wildcard src/cli/berthd/*.c)
BERTH_CLI_SRC := $(wildcard src/cli/berth/*.c)
MONITOR_SRC := $(wildcard src/monitor/*.c)
INIT_SRC := $(wildcard src/init/*.c)
REGISTRY_SRC := $(wildcard src/registry/*.c)
VMM_SRC := $(wildcard src/vmm/*.c src/vmm/virtio/*.c src/vmm/api/*.c)
VMM_MAIN := $(wildcard src/vmm/main.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
HELPER_SRC := $(wildcard tests/helpers/*.c)

# `make V=1` shows the full commands.
ifeq ($(V),1)
Q :=
else
Q := @
endif

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_LIB := $(BUILD)/libberth-common.a
RUNTIME_LIB := $(BUILD)/libberth-runtime.a
IMAGE_LIB := $(BUILD)/libberth-image.a
DAEMON_LIB := $(BUILD)/libberth-daemon.a
NET_LIB := $(BUILD)/libberth-net.a
VMM_LIB := $(BUILD)/libberth-vmm.a
VMM_PKGS := jansson
BINS := $(BUILD)/berth-runtime $(if $(BERTHD_CLI_SRC),$(BUILD)/berthd) $(if $(BERTH_CLI_SRC),$(BUILD)/berth) \
	$(if $(MONITOR_SRC),$(BUILD)/berth-monitor) $(if $(INIT_SRC),$(BUILD)/berth-init) \
	$(if $(REGISTRY_SRC),$(BUILD)/berth-registry) $(if $(VMM_MAIN),$(BUILD)/berth-vmm)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
# Test helpers run inside containers, so they are static and unsanitized.
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILD)/tests/helpers/%,$(HELPER_SRC))
# nettool drives libberth-net for tests/integration/net-lib.sh; it runs on
# the host, so it is linked (and sanitized) like the daemon.
NETTOOL := $(if $(NET_SRC),$(BUILD)/tests/nettool)

all: $(BINS) $(UNIT_BINS) $(HELPER_BINS) $(NETTOOL)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(COMMON_LIB): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(RUNTIME_LIB): $(call obj,$(RUNTIME_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(IMAGE_LIB): $(call obj,$(IMAGE_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(DAEMON_LIB): $(call obj,$(DAEMON_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(NET_LIB): $(call obj,$(NET_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(VMM_LIB): $(call obj,$(filter-out $(VMM_MAIN),$(VMM_SRC)))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

# One berth-vmm process per microVM: KVM, the device event loop, the
# Firecracker-shaped REST API (its own small HTTP/1.1 server, src/vmm/api/http.h:
# no libmicrohttpd, whose GnuTLS chain would double the VMM's resident memory).
$(BUILD)/berth-vmm: $(call obj,$(VMM_MAIN)) $(VMM_LIB) $(COMMON_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(VMM_PKGS)) -lpthread

$(BUILD)/berthd: $(call obj,$(BERTHD_CLI_SRC)) $(DAEMON_LIB) $(if $(NET_SRC),$(NET_LIB)) $(IMAGE_LIB) $(RUNTIME_LIB) $(COMMON_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) -lpthread

# The registry: HTTP (libmicrohttpd), TLS and hashing (OpenSSL), bcrypt
# for htpasswd (libcrypt).
$(BUILD)/berth-registry: $(call obj,$(REGISTRY_SRC)) $(COMMON_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(REGISTRY_PKGS)) -lcrypt -lpthread

# berth build tars the context itself, honoring .dockerignore: the
# dockerignore matcher's object (not the daemon library) and libarchive.
$(BUILD)/berth: $(call obj,$(BERTH_CLI_SRC)) $(call obj,src/build/dockerignore.c) $(COMMON_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs jansson libcurl libarchive)

$(BUILD)/berth-runtime: $(call obj,$(RUNTIME_CLI_SRC)) $(RUNTIME_LIB) $(COMMON_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(filter-out -pie,$(LDFLAGS)) $(RUNTIME_LD) -o $@ $^ $(PKG_LIBS)

# One monitor per running container: static and small, like the runtime.
$(BUILD)/berth-monitor: $(call obj,$(MONITOR_SRC)) $(COMMON_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(filter-out -pie,$(LDFLAGS)) $(RUNTIME_LD) -o $@ $^ $(shell pkg-config --libs jansson)

# The init of `docker run --init`, bind-mounted into containers: static,
# no libraries, never sanitized (it runs inside the container).
$(BUILD)/berth-init: $(INIT_SRC)
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static)"
	$(Q)$(CC) -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -fstack-protector-strong -D_FORTIFY_SOURCE=3 -s -o $@ $^

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(DAEMON_LIB) $(if $(NET_SRC),$(NET_LIB)) $(IMAGE_LIB) $(RUNTIME_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) -lpthread

# The VMM's unit tests (test_vmm_*) link the VMM library instead of the
# daemon's; make prefers this rule for them (shorter stem).
$(BUILD)/tests/test_vmm_%: $(BUILD)/obj/tests/unit/test_vmm_%.o $(VMM_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(VMM_PKGS)) -lpthread

$(BUILD)/tests/nettool: $(BUILD)/obj/tests/net/nettool.o $(NET_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS) -lpthread

$(BUILD)/tests/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@ (static)"
	$(Q)$(CC) -static -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o $@ $<

install: all
	install -D -m 0755 $(BUILD)/berth-runtime $(DESTDIR)$(PREFIX)/bin/berth-runtime
	$(if $(BERTHD_CLI_SRC),install -D -m 0755 $(BUILD)/berthd $(DESTDIR)$(PREFIX)/bin/berthd)
	$(if $(BERTH_CLI_SRC),install -D -m 0755 $(BUILD)/berth $(DESTDIR)$(PREFIX)/bin/berth)
	$(if $(MONITOR_SRC),install -D -m 0755 $(BUILD)/berth-monitor $(DESTDIR)$(PREFIX)/bin/berth-monitor)
	$(if $(INIT_SRC),install -D -m 0755 $(BUILD)/berth-init $(DESTDIR)$(PREFIX)/bin/berth-init)
	$(if $(REGISTRY_SRC),install -D -m 0755 $(BUILD)/berth-registry $(DESTDIR)$(PREFIX)/bin/berth-registry)
	$(if $(VMM_MAIN),install -D -m 0755 $(BUILD)/berth-vmm $(DESTDIR)$(PREFIX)/bin/berth-vmm)

check: all
	$(MAKE) SAN=1 all
	tests/run

clean:
	rm -rf build

.PHONY: all install check clean
# Keep the unit tests' objects between builds.
.SECONDARY:
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
