# capsule — top-level build.
#
#   make demo    install what is missing, build, checkpoint a component on one
#                node and restore it on another (mk/demo.sh)
#   make test    install what is missing, build, run every test (also ASan/UBSan)
#   make bench   benchmarks, each printed as a ratio against a reference
#   make fuzz    libFuzzer targets (fuzz/) built with clang, each run for
#                FUZZ_TIME seconds (make fuzz FUZZ_TIME=60)
#
# Host code (kernel, core, config, loader, init, monitor, libbase native,
# tools) goes to $(B)/host, guest code (libbase guest, libc, components) to
# $(B)/guest.  SAN=1 builds the host side with AddressSanitizer and UBSan
# into build-san/.

SAN ?= 0
ifeq ($(SAN),1)
B ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
B ?= build
SANFLAGS :=
endif

# Unicorn 2.1.1, fetched once into third_party/ by mk/unicorn.sh and linked
# statically (2.0.1 from bookworm costs ~110 ns per guest store, 2.1.1 ~4 ns).
# UNICORN=system uses the installed libunicorn instead.
UNICORN ?= vendored
ifeq ($(UNICORN),system)
UC_CFLAGS :=
UC_LIBS := -lunicorn
else
UC_DIR := third_party/unicorn-2.1.1
# --wrap=g_array_free: kernel/guest/vspace.c frees what uc_close leaves
UC_CFLAGS := -isystem $(UC_DIR)/include -DGUEST_UC_GARRAY_WRAP
UC_LIBS := $(UC_DIR)/lib/libunicorn.a -lm -Wl,--wrap=g_array_free
endif

CC ?= cc
HOST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -MMD -MP \
	-Iinclude -Ibase/include -I. $(UC_CFLAGS) $(SANFLAGS) $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
HOST_LDLIBS := $(UC_LIBS) -lzstd -lxxhash -lsodium -lcrypto -lcap $(shell pkg-config --libs libxml-2.0 2>/dev/null) -lpthread
TEST_LDLIBS := -lcmocka

GUEST_CFLAGS := -std=gnu11 -O2 -flto -g -Wall -Wextra -Wno-unused-parameter -MMD -MP \
	-ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-builtin \
	-mcmodel=small -nostdinc -isystem base/libc/include -isystem $(shell $(CC) -print-file-name=include) \
	-Iinclude -Ibase/include -DCAPSULE_GUEST
GUEST_LDFLAGS := -flto -O2 -static -nostdlib -no-pie -Wl,-T,sdk/guest.ld -Wl,--build-id=sha1

# ---- sources ---------------------------------------------------------------

KERNEL_SRC := $(wildcard kernel/*.c kernel/native/*.c kernel/guest/*.c)
BASE_SRC := $(wildcard base/*.c)
BASE_NATIVE_SRC := $(wildcard base/native/*.c)
BASE_GUEST_SRC := $(wildcard base/guest/*.c base/guest/*.S)
LIBC_SRC := $(wildcard base/libc/*.c)
CORE_SRC := $(wildcard core/*.c)
CONFIG_SRC := $(wildcard config/*.c)
LOADER_SRC := $(wildcard loader/*.c)
INIT_SRC := $(wildcard init/*.c)
MONITOR_SRC := $(wildcard monitor/*.c)
TOOL_SRC := $(filter-out tools/capsule.c,$(wildcard tools/*.c))
IMAGE_SRC := $(wildcard image/*.c)
TRANSPORT_SRC := $(wildcard transport/*.c)
SDK_SRC := $(wildcard sdk/*.S sdk/*.c)

HOST_OBJ := $(patsubst %.c,$(B)/host/%.o,$(KERNEL_SRC) $(BASE_SRC) $(BASE_NATIVE_SRC) \
	$(CORE_SRC) $(CONFIG_SRC) $(LOADER_SRC) $(INIT_SRC) $(MONITOR_SRC) $(TOOL_SRC) $(IMAGE_SRC) $(TRANSPORT_SRC))
GUEST_LIB_OBJ := $(patsubst %,$(B)/guest/%.o,$(BASE_SRC) $(BASE_GUEST_SRC) $(LIBC_SRC) $(SDK_SRC))

COMPONENTS := $(notdir $(wildcard components/*))
COMPONENT_BIN := $(addprefix $(B)/components/,$(COMPONENTS))

UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
BENCHES := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/bench_*.c))

CAPSULE := $(B)/capsule
CAPSULE_TEST := $(B)/capsule-test

.PHONY: all deps demo test unit scenario san-test bench bench-deps bench-shaped \
	migrate-long format format-check clean install \
	fuzz fuzz-deps fuzz-build fuzz-check
all: $(CAPSULE) $(CAPSULE_TEST) $(COMPONENT_BIN) $(UNIT_TESTS)

deps:
	@sh mk/deps.sh

# ---- host ------------------------------------------------------------------

$(B)/host/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c $< -o $@

ifneq ($(UNICORN),system)
$(HOST_OBJ): | $(UC_DIR)/.stamp
$(UC_DIR)/.stamp: mk/unicorn.sh
	@sh mk/unicorn.sh $(UC_DIR)
endif

$(B)/libcapsule.a: $(HOST_OBJ)
	@rm -f $@
	ar rcs $@ $^

# the version `capsule --version` prints: the checkout's description
CAPSULE_VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(B)/host/tools/cli.o: HOST_CFLAGS += -DCAPSULE_VERSION='"$(CAPSULE_VERSION)"'

$(CAPSULE): $(B)/host/tools/capsule.o $(B)/libcapsule.a
	$(CC) $(SANFLAGS) -o $@ $^ $(HOST_LDLIBS)

# The test binary: the same node with the restore's fault injection
# compiled in (CAPSULE_TEST_HOOKS in the files below; monitor/test_hooks.c).
# Its objects come first, so the archive's plain ones are not linked.
# tests/cr/restore_inject.sh and restore_fail.sh run it.
TEST_HOOK_OBJ := $(patsubst %.c,$(B)/host-test/%.o,monitor/test_hooks.c monitor/restore_hooks.c \
	config/test_env.c)
$(B)/host-test/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -DCAPSULE_TEST_HOOKS -c $< -o $@

$(CAPSULE_TEST): $(B)/host/tools/capsule.o $(TEST_HOOK_OBJ) $(B)/libcapsule.a
	$(CC) $(SANFLAGS) -o $@ $^ $(HOST_LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libcapsule.a
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(B)/libcapsule.a $(HOST_LDLIBS) $(TEST_LDLIBS) \
		$(shell sed -n 's|^/\* *LDFLAGS: *\(.*\)\*/|\1|p' $<)

# ---- guest -----------------------------------------------------------------

$(B)/guest/%.c.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(B)/guest/%.S.o: %.S
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_CFLAGS) -c $< -o $@

$(B)/guest/libguest.a: $(GUEST_LIB_OBJ)
	@rm -f $@
	gcc-ar rcs $@ $^

# A component is components/NAME/*.c; one rule builds them all.
guest_objs = $(patsubst %.c,$(B)/guest/%.c.o,$(1))
.SECONDEXPANSION:
$(B)/components/%: $$(call guest_objs,$$(wildcard components/$$*/*.c)) \
		$(B)/guest/libguest.a sdk/guest.ld
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_LDFLAGS) -o $@ $(B)/guest/sdk/crt0.S.o \
		$(filter %.o,$^) -Wl,--start-group $(B)/guest/libguest.a -Wl,--end-group -lgcc

# A component's objects are intermediate (made through the rule above):
# kept, so a second make (or make demo) rebuilds nothing
.PRECIOUS: $(B)/guest/%.c.o

# ---- the two commands ------------------------------------------------------

# quiet unless V=1: the build prints only warnings and errors
demo: deps
	@echo "demo: building what changed$(if $(V),, (make demo V=1 shows the commands))"
	@$(MAKE) --no-print-directory $(if $(V),,-s) all
	@V=$(V) sh mk/demo.sh $(B)

unit: all
	@sh tests/run-unit.sh $(B)

# The shell harnesses `make scenario` runs after tests/run-scenarios.sh,
# each with the build directory; all of them run whatever fails.
SCENARIO_TESTS := tests/cli/run.sh tests/kernel/memory.sh tests/kernel/components.sh \
	tests/kernel/rsys.sh tests/kernel/prio.sh tests/kernel/randcode.sh tests/cli/help.sh tests/cli/errors.sh \
	tests/cr/cross_node.sh tests/cr/cross_server.sh tests/cr/bad_images.sh \
	tests/cr/restore_memory.sh tests/cr/checkpoint_memory.sh tests/cr/outside_wait.sh \
	tests/cr/restore_fail.sh tests/cr/server_absent.sh \
	tests/cr/restore_inject.sh tests/cr/binary_check.sh tests/cr/pending_signal.sh \
	tests/cr/neighbour.sh tests/cr/lazy_restore.sh tests/cr/lazy_wset.sh tests/cr/incremental.sh \
	tests/cr/soak.sh tests/cr/server_gone.sh tests/cr/log_burst.sh tests/cr/worker_restore.sh tests/cr/group.sh tests/cr/group_cut.sh tests/cr/group_restore.sh tests/cr/group_ended.sh \
	tests/zdtm/run.sh tests/zdtm/groups.sh tests/migrate/loopback.sh tests/migrate/postcopy.sh \
	tests/migrate/group_migrate.sh \
	tests/docs.sh tests/cli/progress.sh

scenario: all
	@fail=0; \
	for t in tests/run-scenarios.sh $(SCENARIO_TESTS); do \
		sh $$t $(B) || fail=1; \
	done; \
	if sh mk/demo.sh $(B) >$(B)/demo.log 2>&1; then \
		echo "demo: PASS (two nodes, checkpoint/restore through the CLI)"; \
	else \
		cat $(B)/demo.log; echo "demo: FAIL (mk/demo.sh, its output above)"; fail=1; \
	fi; \
	if [ -n "$(MIGRATE_LONG)" ]; then \
		$(MAKE) --no-print-directory migrate-long || fail=1; \
	fi; \
	exit $$fail

# The long migration tests, 2-3 minutes each (make migrate-long, or
# MIGRATE_LONG=1 in make test/scenario): every zdtm example both ways
# between two network namespaces (root; loopback otherwise), and faults
# at each phase.  MIGRATE_MODES="default postcopy" runs both modes.
migrate-long: all
	@sh tests/migrate/twohost.sh $(B)
	@sh tests/migrate/faults.sh $(B)

san-test:
	@$(MAKE) --no-print-directory -k SAN=1 unit scenario

# every step runs whatever failed before; the last line counts the tests
test: deps fuzz-deps
	@sh tests/summary.sh "$(MAKE) --no-print-directory -k" \
		format-check unit scenario san-test fuzz-check

bench: deps bench-deps
	@$(MAKE) --no-print-directory all $(BENCHES) $(QEMU_GUESTS)
	@fail=0; for b in $(BENCHES); do $$b || { echo "bench: $$b failed"; fail=1; }; done; exit $$fail

# bench_migrate's reference is QEMU (mk/bench-deps.sh installs it) with a
# guest of its own, one per size; bench-shaped: its two-namespace variant
# over a veth shaped with tbf 100mbit (root).
QEMU_GUESTS := $(B)/bench/qemu_wset_16.elf $(B)/bench/qemu_wset_256.elf
bench-deps:
	@sh mk/bench-deps.sh

$(B)/bench/qemu_wset_%.elf: bench/qemu_wset.S
	@mkdir -p $(dir $@)
	$(CC) -m32 -DWSET_MB=$* -c $< -o $@.o
	ld -m elf_i386 -Ttext=0x100000 -o $@ $@.o

bench-shaped: deps bench-deps
	@$(MAKE) --no-print-directory all $(B)/bench/bench_migrate $(QEMU_GUESTS)
	@$(B)/bench/bench_migrate --shaped

$(B)/bench/%: bench/%.c $(B)/libcapsule.a $(COMPONENT_BIN)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -o $@ $< $(B)/libcapsule.a $(HOST_LDLIBS)

# ---- fuzzing ---------------------------------------------------------------
# libFuzzer targets, one file each in fuzz/ (fuzz_TARGET.c), built with clang
# and ASan/UBSan into build/fuzz/fuzz_TARGET from the sources they test.
# Seeds: fuzz/corpus/TARGET/.  `make fuzz` runs each for FUZZ_TIME seconds;
# `make test` runs each for FUZZ_RUNS executions (fuzz/run.sh).

FUZZ_CC ?= clang-14
FUZZ_TIME ?= 10
FUZZ_RUNS ?= 3000
FB := build/fuzz
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-Iinclude -Ibase/include -I. $(shell pkg-config --cflags libxml-2.0 2>/dev/null)
FUZZ_SRC_image := fuzz/fuzz_image.c fuzz/image_mutator.c fuzz/group_mutator.c $(IMAGE_SRC) tools/inspect.c \
	tools/inspect_page.c tools/inspect_group.c
FUZZ_LIBS_image := -lzstd -lxxhash
FUZZ_SRC_control := fuzz/fuzz_control.c tools/control_parse.c
FUZZ_LIBS_control := -Wl,--wrap=open
FUZZ_SRC_config := fuzz/fuzz_config.c config/config.c config/xml_walk.c
FUZZ_LIBS_config := $(shell pkg-config --libs libxml-2.0 2>/dev/null)
FUZZ_TARGETS := image control config
FUZZ_BIN := $(addprefix $(FB)/fuzz_,$(FUZZ_TARGETS))

fuzz-deps:
	@sh mk/fuzz-deps.sh

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

fuzz_objs = $(patsubst %.c,$(FB)/obj/%.o,$(1))
$(FB)/fuzz_%: $$(call fuzz_objs,$$(FUZZ_SRC_$$*))
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(FUZZ_LIBS_$*)

# the objects are kept: a second fuzz run rebuilds nothing
.PRECIOUS: $(FB)/obj/%.o

fuzz-build: $(FUZZ_BIN)

fuzz: deps fuzz-deps
	@$(MAKE) --no-print-directory fuzz-build
	@sh fuzz/run.sh $(FB) time $(FUZZ_TIME)

fuzz-check: fuzz-build
	@sh fuzz/run.sh $(FB) runs $(FUZZ_RUNS)

# ---- install ---------------------------------------------------------------
# make install PREFIX=DIR: the program, its man page (rendered from the
# command table by `capsule help --man`) and the bash completion.

PREFIX ?= /usr/local
DESTDIR ?=
install: $(CAPSULE)
	@mkdir -p $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions
	install -m 755 $(CAPSULE) $(DESTDIR)$(PREFIX)/bin/capsule
	$(CAPSULE) help --man >$(DESTDIR)$(PREFIX)/share/man/man1/capsule.1
	install -m 644 tools/capsule.bash-completion \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/capsule

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format: PASS clang-format finds nothing to change" || \
		{ echo "format: FAIL (make format fixes it)"; exit 1; }

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
-include $(shell find $(FB) -name '*.d' 2>/dev/null)
