# Porthole: one Makefile for everything.  `make` builds, `make check` builds
# and runs every test (plain, then under ASan/UBSan) and ends with a
# "N passed, N failed, N skipped" line, `make bench` measures,
# `make run` starts a demo VM.  Dependencies come from Debian packages, which
# `check` and `run` install when missing (installer/deps.sh).

VERSION := $(shell cat VERSION)
CC ?= cc
SAN ?=
ifeq ($(SAN),1)
BUILD ?= build/san
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD ?= build
SAN_FLAGS :=
endif
BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj

PKGS := glib-2.0 gio-2.0 gio-unix-2.0
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wformat=2 -Wvla
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) $(SAN_FLAGS) -D_GNU_SOURCE -I. \
	-DPORTHOLE_VERSION='"$(VERSION)"' -MMD -MP
LDFLAGS_ALL := $(SAN_FLAGS) $(LDFLAGS) -lpthread

# ---- sources ----
BACKDOOR_SRCS := $(wildcard backdoor/*.c)
HV_LIB_SRCS := $(filter-out hypervisor/main.c,$(wildcard hypervisor/*.c hypervisor/devices/*.c hypervisor/engines/*.c))
HOSTLIB_SRCS := $(wildcard host-services/lib/*.c)
GUESTD_SRCS := $(wildcard guest-additions/guestd/*.c)
RPC_SRCS := $(wildcard guest-additions/rpc/*.c)
CTL_SRCS := $(wildcard host-services/ctl/*.c)
GUESTLIB_SRCS := $(wildcard guest-additions/lib/*.c)
VMCI_GUEST_SRCS := $(wildcard guest-additions/vmci/*.c)
VMCI_HOST_SRCS := $(wildcard host-services/vmci/*.c)
HOSTD_SRCS := $(wildcard host-services/dbus/*.c)
TRAY_SRCS := $(wildcard host-services/tray/*.c)
AGENT_SRCS := $(wildcard guest-additions/agent/*.c)
VIEWER_SRCS := $(wildcard host-services/viewer/*.c)
# X code shared by the agent and the viewer (common/: selections, the main-loop
# source, error handling).
XSEL_SRCS := $(wildcard common/*.c)
TEST_HOST_SRCS := $(wildcard tests/host/*.c)
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
# exec-timer is built static only (below), not as a dynamic guest test.
GUEST_TEST_SRCS := $(filter-out tests/guest/exec-timer.c,$(wildcard tests/guest/*.c))

objs = $(patsubst %.c,$(OBJ)/%.o,$(1))

.DEFAULT_GOAL := all

# Freestanding KVM guest payloads (their own flags; never sanitized).
include tests/payloads/payloads.mk

LIB_BACKDOOR := $(BUILD)/lib/libbackdoor.a
LIB_HV := $(BUILD)/lib/libhv.a
LIB_HOST := $(BUILD)/lib/libporthole-host.a
LIB_GUEST := $(BUILD)/lib/libporthole-guest.a

PROGRAMS := $(BIN)/porthole-hv $(BIN)/porthole-guestd $(BIN)/porthole-rpc $(BIN)/porthole-ctl
PROGRAMS += $(BIN)/porthole-vmci $(BIN)/porthole-vmci-guest
PROGRAMS += $(BIN)/porthole-hostd $(BIN)/porthole-tray
PROGRAMS += $(BIN)/porthole-agent $(BIN)/porthole-viewer
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
GUEST_TESTS := $(patsubst tests/guest/%.c,$(BUILD)/tests/guest/%,$(GUEST_TEST_SRCS))
GUEST_EXTRA := $(BUILD)/tests/guest/cpuid-cases-static $(BUILD)/tests/guest/libcpuid-probe.so
GUEST_EXTRA += $(BUILD)/tests/guest/exec-timer-static
# Host-side test helpers (e.g. a StatusNotifierWatcher written to the spec).
HOST_TESTS := $(patsubst tests/host/%.c,$(BUILD)/tests/host/%,$(TEST_HOST_SRCS))

# The guest image's init (installer/image/): part of the image, not of the
# guest additions; never sanitized (it runs as the image's pid 1).
IMAGE_INIT := $(BUILD)/image/porthole-init

.SECONDARY:
.PHONY: all deps check check-plain check-san unit e2e bench run install clean packages image
all: $(PROGRAMS) $(UNIT_TESTS) $(GUEST_TESTS) $(GUEST_EXTRA) $(HOST_TESTS) $(PAYLOADS) $(IMAGE_INIT)

$(IMAGE_INIT): installer/image/porthole-init.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -o $@ $<

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(LIB_BACKDOOR): $(call objs,$(BACKDOOR_SRCS))
$(LIB_HV): $(call objs,$(HV_LIB_SRCS))
$(LIB_HOST): $(call objs,$(HOSTLIB_SRCS))
$(LIB_GUEST): $(call objs,$(GUESTLIB_SRCS))
$(BUILD)/lib/%.a:
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The trap engine decodes x86 code with Zydis (libzydis-dev; no .pc file).
ZYDIS_LIBS := -lZydis
# The hypervisor's threads filter their own system calls (libseccomp-dev).
SECCOMP_LIBS = $(shell pkg-config --libs libseccomp 2>/dev/null)
$(BIN)/porthole-hv: PKG_LIBS += $(ZYDIS_LIBS) $(SECCOMP_LIBS)
$(BIN)/porthole-hv: $(call objs,hypervisor/main.c) $(LIB_HV) $(LIB_BACKDOOR)
# The trap engine's guest vDSO (hypervisor/vdso/): freestanding, position-
# independent, without relocations; never sanitized (no ASan runtime in a
# vDSO).  trap-clock.c embeds it (.incbin).
VDSO := $(BUILD)/vdso/porthole-vdso.so
VDSO_CFLAGS := -std=gnu11 $(WARN) -O2 -g -I. -ffreestanding -nostdlib -fPIC -fno-plt \
	-fno-stack-protector -fcf-protection=none -MMD -MP
$(BUILD)/vdso/vdso.o: hypervisor/vdso/vdso.c
	@mkdir -p $(dir $@)
	$(CC) $(VDSO_CFLAGS) -c $< -o $@
$(VDSO): $(BUILD)/vdso/vdso.o hypervisor/vdso/vdso.lds
	$(CC) -nostdlib -shared -Wl,-T,hypervisor/vdso/vdso.lds -Wl,-soname=linux-vdso.so.1 \
		-Wl,--hash-style=both -Wl,--no-undefined -Wl,-Bsymbolic -Wl,--build-id=none \
		-Wl,-z,max-page-size=4096 -Wl,--eh-frame-hdr -Wl,-s -o $@ $<
	@if readelf -r $@ | grep -q "Relocation section"; then \
		echo "$@: a vDSO must have no relocations" >&2; rm -f $@; exit 1; fi
-include $(wildcard $(BUILD)/vdso/*.d)
$(OBJ)/hypervisor/engines/trap-clock.o: $(VDSO)
$(OBJ)/hypervisor/engines/trap-clock.o: ALL_CFLAGS += -DPORTHOLE_VDSO_IMAGE='"$(VDSO)"'
$(BIN)/porthole-guestd: $(call objs,$(GUESTD_SRCS)) $(LIB_GUEST) $(LIB_BACKDOOR)
$(BIN)/porthole-rpc: $(call objs,$(RPC_SRCS)) $(LIB_BACKDOOR)
$(BIN)/porthole-ctl: $(call objs,$(CTL_SRCS)) $(LIB_HOST)
$(BIN)/porthole-vmci: $(call objs,$(VMCI_HOST_SRCS)) $(LIB_HOST) $(LIB_BACKDOOR)
$(BIN)/porthole-vmci-guest: $(call objs,$(VMCI_GUEST_SRCS)) $(LIB_GUEST) $(LIB_BACKDOOR)
$(BIN)/porthole-hostd: $(call objs,$(HOSTD_SRCS)) $(LIB_HOST)
# hostd.c embeds the interface XML (.incbin): rebuild when it changes.
$(OBJ)/host-services/dbus/hostd.o: host-services/dbus/org.porthole.Host1.xml
# The tray's menu is served by libdbusmenu-glib.
TRAY_CFLAGS = $(shell pkg-config --cflags dbusmenu-glib-0.4 2>/dev/null)
$(call objs,$(TRAY_SRCS)): PKG_CFLAGS += $(TRAY_CFLAGS)
$(BIN)/porthole-tray: PKG_LIBS += $(shell pkg-config --libs dbusmenu-glib-0.4 2>/dev/null)
# "Open viewer" raises the VM's open viewer (common/x-window.c) instead of starting another.
$(BIN)/porthole-tray: PKG_LIBS += $(shell pkg-config --libs x11 2>/dev/null)
$(BIN)/porthole-tray: $(call objs,$(TRAY_SRCS) common/x-window.c) $(LIB_HOST)
# The desktop agent and the viewer speak X (Xlib and its extensions).
X_PKGS := x11 xext xrandr xdamage xfixes xtst x11-xcb xcb xcb-shm
X_CFLAGS = $(shell pkg-config --cflags $(X_PKGS) 2>/dev/null)
X_LIBS = $(shell pkg-config --libs $(X_PKGS) 2>/dev/null)
$(call objs,$(AGENT_SRCS) $(VIEWER_SRCS) $(XSEL_SRCS)): PKG_CFLAGS += $(X_CFLAGS)
$(BIN)/porthole-agent $(BIN)/porthole-viewer: PKG_LIBS += $(X_LIBS)
$(BIN)/porthole-agent: $(call objs,$(AGENT_SRCS) $(XSEL_SRCS)) $(LIB_GUEST) $(LIB_BACKDOOR)
$(BIN)/porthole-viewer: $(call objs,$(VIEWER_SRCS) $(XSEL_SRCS)) $(LIB_HOST) $(LIB_BACKDOOR)
# The viewer scales the guest's screen on the X server (XRender).
$(call objs,$(VIEWER_SRCS)): PKG_CFLAGS += $(shell pkg-config --cflags xrender 2>/dev/null)
$(BIN)/porthole-viewer: PKG_LIBS += $(shell pkg-config --libs xrender 2>/dev/null)
# Test helpers that speak X: a host window prober and screenshot taker, a
# guest drawer.
X_TEST_HELPERS := tests/host/xwin-probe.c tests/host/xcopy-baseline.c tests/guest/video-draw.c \
	tests/host/x-screenshot.c
$(call objs,$(X_TEST_HELPERS)): PKG_CFLAGS += $(X_CFLAGS)
$(BUILD)/tests/host/xwin-probe $(BUILD)/tests/host/xcopy-baseline \
	$(BUILD)/tests/host/x-screenshot: PKG_LIBS += $(X_LIBS)
$(BUILD)/tests/guest/video-draw: PKG_LIBS += $(X_LIBS)
# Input test helper: a guest X client that prints the events it gets.
$(call objs,tests/guest/x-probe.c): PKG_CFLAGS += $(X_CFLAGS)
$(BUILD)/tests/guest/x-probe: PKG_LIBS += $(X_LIBS)
# Clipboard test helper: counts selection owner changes (host and guest displays).
$(call objs,tests/host/xfixes-count.c): PKG_CFLAGS += $(X_CFLAGS)
$(BUILD)/tests/host/xfixes-count: PKG_LIBS += $(X_LIBS)
$(BIN)/%:
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/tests/test-%: $(OBJ)/tests/unit/test-%.o $(LIB_HV) $(LIB_HOST) $(LIB_BACKDOOR)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) $(ZYDIS_LIBS) $(SECCOMP_LIBS) $(CMOCKA_LIBS)
# The guest's vmmouse decoding and uinput translation live in the guest library.
$(BUILD)/tests/test-vmmouse-uinput: $(OBJ)/tests/unit/test-vmmouse-uinput.o $(LIB_GUEST) $(LIB_BACKDOOR)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS) $(CMOCKA_LIBS)

# cpuid-cases again as a static program (no interpreter: glibc runs its own
# cpuid before main), and the library it dlopen()s.  Never sanitized: ASan
# can't link statically, and the library is loaded by both builds.
$(BUILD)/tests/guest/cpuid-cases-static: tests/guest/cpuid-cases.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -D_GNU_SOURCE -static -pthread -o $@ $<
# The exec bench's timer: static, so that nothing it maps warms the patching
# cache before the first exec it times (tests/guest/exec-timer.c).
$(BUILD)/tests/guest/exec-timer-static: tests/guest/exec-timer.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -D_GNU_SOURCE -static -o $@ $<
$(BUILD)/tests/guest/libcpuid-probe.so: tests/guest/lib/cpuid-probe.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 $(WARN) -O2 -g -shared -fPIC -o $@ $<

$(BUILD)/tests/guest/%: $(OBJ)/tests/guest/%.o $(LIB_GUEST) $(LIB_BACKDOOR)
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)

$(BUILD)/tests/host/%: $(OBJ)/tests/host/%.o
	@mkdir -p $(dir $@)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PKG_LIBS)

# ---- dependencies (Debian packages) ----
deps:
	@installer/deps.sh

# ---- tests: `make e2e E2E=pattern` (or check) runs a subset of the e2e tests ----
E2E ?=
unit: all
	@tests/run-unit.sh $(BUILD)

e2e: all
	@tests/run-e2e.sh $(BUILD) '$(E2E)'

# A pass of `make check` over a build tree builds, then runs every unit and
# e2e test; each runner records a line per test in DIR/tests/results-*, and
# tests/summary.sh sums them up.  A failure never ends the pass, nor `make
# check`: the sanitizer pass runs whatever the plain one found.
# check_build DIR MAKE_ARGS: a failed build is recorded as a failure...
check_build = $(MAKE) --no-print-directory $(2) all || { mkdir -p $(1)/tests; \
	echo "FAIL build $(1): make $(strip $(2) all) failed" | tee $(1)/tests/results-build; }
# check_tests DIR: ...and its tests don't run (they would test stale programs).
check_tests = [ -e $(1)/tests/results-build ] || { \
	PORTHOLE_TEST_SUMMARY=no tests/run-unit.sh $(1); \
	PORTHOLE_TEST_SUMMARY=no tests/run-e2e.sh $(1) '$(E2E)'; true; }
# check_fuzz: each libFuzzer target replays its corpus, then FUZZ_CHECK_SECONDS
# of fresh inputs (plain pass only: the targets carry their own sanitizers).
check_fuzz = { $(MAKE) --no-print-directory fuzz-build && \
	PORTHOLE_TEST_SUMMARY=no tests/run-fuzz.sh build $(FUZZ_CHECK_SECONDS); } || { \
	mkdir -p build/tests; echo "FAIL build fuzz: make fuzz failed" >>build/tests/results-fuzz; }
# ("+" marks the build as the recursive make it is: make can't see $(MAKE)
# through $(call), and `make -n` must still not run the tests.)

check-plain:
	@rm -f build/tests/results-*
	+@$(call check_build,build,)
	@$(call check_tests,build)
	+@$(check_fuzz)
	@tests/summary.sh build/tests/results-*

check-san:
	@rm -f build/san/tests/results-*
	+@$(call check_build,build/san,SAN=1)
	@$(call check_tests,build/san)
	@tests/summary.sh build/san/tests/results-*

# Ends with one line over both passes, "N passed, N failed, N skipped", and
# fails if anything did.
check: deps
	@rm -f build/tests/results-* build/san/tests/results-*
	+@$(call check_build,build,)
	@$(call check_tests,build)
	+@$(check_fuzz)
	+@$(call check_build,build/san,SAN=1)
	@$(call check_tests,build/san)
	@tests/summary.sh build/tests/results-* build/san/tests/results-*

# ---- fuzzing: a libFuzzer target per guest-facing parser (tests/fuzz) ----
# `make fuzz-build` builds them (Debian's clang); `make fuzz [FUZZ=pattern]
# [FUZZ_SECONDS=N]` builds and runs each in turn for N seconds, keeping its
# working corpus in build/fuzz/corpus/NAME and crashes in build/fuzz/crashes;
# `make check` replays each in-tree corpus plus FUZZ_CHECK_SECONDS of fresh
# inputs (tests/run-fuzz.sh runs both).
FUZZ_CC ?= clang
FUZZ ?=
FUZZ_SECONDS ?= 300
FUZZ_CHECK_SECONDS ?= 10
FUZZ_FLAGS := -std=gnu11 $(WARN) -g -O1 -D_GNU_SOURCE -I. \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := build/fuzz/fuzz-cpuid-elf build/fuzz/fuzz-x86-decode
build/fuzz/fuzz-cpuid-elf: tests/fuzz/fuzz-cpuid-elf.c hypervisor/engines/cpuid-patch.c \
	hypervisor/engines/x86-decode.c
build/fuzz/fuzz-x86-decode: tests/fuzz/fuzz-x86-decode.c hypervisor/engines/x86-decode.c
# The device-model targets: the real hypervisor without its engines, and
# tests/fuzz/fuzz-vm.c (a VM, guest memory, status checks).
FUZZ_DEVICE_SRCS := tests/fuzz/fuzz-vm.c hypervisor/vm.c hypervisor/iobus.c \
	hypervisor/guest-clock.c $(wildcard hypervisor/devices/*.c) $(BACKDOOR_SRCS)
FUZZ_TARGETS += build/fuzz/fuzz-backdoor
build/fuzz/fuzz-backdoor: tests/fuzz/fuzz-backdoor.c $(FUZZ_DEVICE_SRCS)
FUZZ_TARGETS += build/fuzz/fuzz-rpc
build/fuzz/fuzz-rpc: tests/fuzz/fuzz-rpc.c $(FUZZ_DEVICE_SRCS)
FUZZ_TARGETS += build/fuzz/fuzz-vmci
build/fuzz/fuzz-vmci: tests/fuzz/fuzz-vmci.c $(FUZZ_DEVICE_SRCS)
FUZZ_TARGETS += build/fuzz/fuzz-guest-clock
build/fuzz/fuzz-guest-clock: tests/fuzz/fuzz-guest-clock.c $(FUZZ_DEVICE_SRCS)
FUZZ_TARGETS += build/fuzz/fuzz-control
build/fuzz/fuzz-control: tests/fuzz/fuzz-control.c hypervisor/control.c hypervisor/console.c $(FUZZ_DEVICE_SRCS)
FUZZ_TARGETS += build/fuzz/fuzz-guestinfo
build/fuzz/fuzz-guestinfo: tests/fuzz/fuzz-guestinfo.c $(FUZZ_DEVICE_SRCS)
build/fuzz/fuzz-%: tests/fuzz/fuzz-%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $(filter %.c,$^) $(PKG_LIBS) $(ZYDIS_LIBS)
# Host services and guest additions: what they read from the other side.
FUZZ_TARGETS += build/fuzz/fuzz-qp-attach
build/fuzz/fuzz-qp-attach: host-services/lib/vmci-host.c host-services/lib/connect.c \
	backdoor/ring.c backdoor/ring-transfer.c
FUZZ_TARGETS += build/fuzz/fuzz-msgchan
build/fuzz/fuzz-msgchan: backdoor/msgchan-host.c backdoor/msgchan-guest.c backdoor/call.c
FUZZ_TARGETS += build/fuzz/fuzz-video
build/fuzz/fuzz-video: backdoor/video.c
# The agent's and the viewer's clipboard modules, X and VMCI stubbed in the harness.
FUZZ_TARGETS += build/fuzz/fuzz-clipboard-msg
build/fuzz/fuzz-clipboard-msg: backdoor/clipboard.c guest-additions/agent/clipboard.c \
	host-services/viewer/clipboard.c host-services/lib/guest-text.c
build/fuzz/fuzz-clipboard-msg: PKG_CFLAGS += $(X_CFLAGS)
# VMware copy/paste v4: the reassembly state machine and the device side.
FUZZ_TARGETS += build/fuzz/fuzz-dndcp
build/fuzz/fuzz-dndcp: tests/fuzz/fuzz-dndcp.c $(FUZZ_DEVICE_SRCS)
# (Targets are added above: fuzz-build's list is read here.)
.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_TARGETS)
fuzz: fuzz-build
	@tests/run-fuzz.sh --campaign build $(FUZZ_SECONDS) '$(FUZZ)'

# ---- benchmarks: `make bench BENCH=pattern` runs a subset ----
BENCH ?=
bench: all
	@tests/bench/run.sh $(BUILD) '$(BENCH)'

# ---- the guest image: a Debian 12 root with porthole-init (cached, see README) ----
image: deps all
	@$(BIN)/porthole-hv image create

# ---- demo VM ----
run: deps all
	@tests/run-demo.sh $(BUILD)

# ---- Debian packages and the guest tarball (installer/Makefile) ----
packages: all
	$(MAKE) -C installer BUILD=$(abspath $(BUILD))

# ---- make install / make uninstall (PREFIX, DESTDIR) ----
# A source install of the host side: the programs (the guest tools too: a
# trap-engine guest runs the host's files), man pages, porthole-hostd's D-Bus
# activation file (found in PREFIX/share when PREFIX/share is in
# XDG_DATA_DIRS, as /usr/local/share is by default) and introspection XML, and
# the host programs' desktop entries (host-services/*/*.desktop, so that
# desktops find them by name; copy porthole-tray.desktop into
# ~/.config/autostart to start the tray at login).  Not the tray's login autostart, the guest's systemd
# unit nor the agent's autostart entry: they change every login or boot of the
# machine, which the packages (make packages) and install.sh do on request.
# uninstall removes exactly the files in INSTALLED_FILES.
PREFIX ?= /usr/local
BINDIR := $(PREFIX)/bin
DATADIR := $(PREFIX)/share
MANDIR := $(DATADIR)/man
MAN_PAGES := $(wildcard installer/man/*.[0-9])
# man_path PAGE: where PAGE (installer/man/NAME.SECTION) goes
man_path = $(MANDIR)/man$(subst .,,$(suffix $(1)))/$(notdir $(1))
HOST_DESKTOP_FILES := $(wildcard host-services/*/*.desktop)
DBUS_SERVICE_FILE := $(DATADIR)/dbus-1/services/org.porthole.Host1.service
# The guest image's recipe and init, for `porthole-hv image create`.
IMAGE_DIR := $(DATADIR)/porthole/image
IMAGE_SCRIPTS := $(addprefix installer/image/,build-image.sh customize.sh porthole-session \
	porthole-additions)
IMAGE_DATA := $(addprefix installer/image/,packages porthole-init.c porthole-session.service \
	porthole-additions.service) installer/xorg-dummy.conf
INSTALLED_FILES := $(addprefix $(BINDIR)/,$(notdir $(PROGRAMS))) \
	$(addprefix $(IMAGE_DIR)/,$(notdir $(IMAGE_SCRIPTS) $(IMAGE_DATA)) porthole-init) \
	$(foreach p,$(MAN_PAGES),$(call man_path,$(p))) $(DBUS_SERVICE_FILE) \
	$(DATADIR)/dbus-1/interfaces/org.porthole.Host1.xml \
	$(addprefix $(DATADIR)/applications/,$(notdir $(HOST_DESKTOP_FILES)))
.PHONY: uninstall
install: $(PROGRAMS) $(IMAGE_INIT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/dbus-1/services \
		$(DESTDIR)$(DATADIR)/dbus-1/interfaces $(DESTDIR)$(DATADIR)/applications \
		$(DESTDIR)$(IMAGE_DIR)
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -m 0755 $(IMAGE_SCRIPTS) $(IMAGE_INIT) $(DESTDIR)$(IMAGE_DIR)/
	install -m 0644 $(IMAGE_DATA) $(DESTDIR)$(IMAGE_DIR)/
	$(foreach p,$(MAN_PAGES),install -d $(dir $(DESTDIR)$(call man_path,$(p))) && \
		sed 's/@VERSION@/$(VERSION)/' $(p) >$(DESTDIR)$(call man_path,$(p)) && \
		chmod 0644 $(DESTDIR)$(call man_path,$(p))$(newline))
	sed 's|@bindir@|$(BINDIR)|' host-services/dbus/org.porthole.Host1.service.in \
		>$(DESTDIR)$(DBUS_SERVICE_FILE)
	chmod 0644 $(DESTDIR)$(DBUS_SERVICE_FILE)
	install -m 0644 host-services/dbus/org.porthole.Host1.xml $(DESTDIR)$(DATADIR)/dbus-1/interfaces/
	install -m 0644 $(HOST_DESKTOP_FILES) $(DESTDIR)$(DATADIR)/applications/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED_FILES))

define newline


endef

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
