# proxyhdr - plain make.  Outputs go under $(O) (default build/), so
# several builds (normal, sanitized, fuzz) can live side by side.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

O ?= build
CC ?= cc
FUZZCC ?= clang
SCDOC ?= scdoc
PKG_CONFIG ?= pkg-config
FUZZ_SECONDS ?= 600
BENCH_ARGS ?=

VERSION = 0.1.0
SOVERSION = 0

# Asked when first used, not when the Makefile is read: `make deps` may
# have installed libbsd-dev since.  Each is asked once per make run.
BSD_CFLAGS = $(eval BSD_CFLAGS := $(shell $(PKG_CONFIG) --cflags \
	libbsd-overlay 2>/dev/null))$(BSD_CFLAGS)
BSD_LIBS = $(eval BSD_LIBS := $(shell $(PKG_CONFIG) --libs \
	libbsd-overlay 2>/dev/null))$(BSD_LIBS)
# Empty when the build's packages are there; else one line saying what
# is missing and how to install it (scripts/deps --check).
BUILD_MISSING = $(shell CC='$(CC)' PKG_CONFIG='$(PKG_CONFIG)' \
	SCDOC='$(SCDOC)' sh scripts/deps --check 2>&1)

CFLAGS ?= -O2 -g
# Warnings stop the build in make check (and so in CI), and for whoever
# asks with WERROR=-Werror; a user's plain make with a newer compiler is
# not stopped by a warning that compiler added.
WERROR ?=
WARN = -Wall -Wextra $(WERROR) -Wstrict-prototypes -Wmissing-prototypes \
	-Wshadow -Wpointer-arith -Wcast-qual -Wsign-compare
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -fPIC -Ilib -Ilib/net -Ilib/relay \
	$(BSD_CFLAGS) \
	$(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS)

# libproxyhdr: the codec (public API in lib/proxyhdr.h), and only it.
LIB_SRC = $(wildcard lib/pp_*.c)
# Private, never installed: addresses and CIDR for the tools and the
# engine, and the relay engine shared by pp-relay and pp-balance.
NET_SRC = $(wildcard lib/net/*.c)
ENGINE_SRC = $(wildcard lib/relay/*.c)
# Code shared by the tools (options, addresses, logging, environment).
CLI_SRC = $(filter-out bin/pp-%.c,$(wildcard bin/*.c))
TOOLS = $(patsubst bin/%.c,%,$(wildcard bin/pp-*.c))
MAN_SRC = $(wildcard man/*.scd)
UNIT_SRC = $(wildcard tests/unit/test_*.c)
BENCH_SRC = $(wildcard bench/bench_*.c)
# Load clients and servers the bats suites drive.
TEST_TOOL_SRC = $(wildcard tests/tools/*.c)

LIB_OBJ = $(LIB_SRC:%.c=$(O)/%.o)
NET_OBJ = $(NET_SRC:%.c=$(O)/%.o)
ENGINE_OBJ = $(ENGINE_SRC:%.c=$(O)/%.o)
CLI_OBJ = $(CLI_SRC:%.c=$(O)/%.o)
CLI_LIB = $(O)/libppcli.a
TOOL_BIN = $(TOOLS:%=$(O)/bin/%)
MAN_OUT = $(MAN_SRC:man/%.scd=$(O)/man/%)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(O)/bench/%)
TEST_TOOL_BIN = $(TEST_TOOL_SRC:tests/tools/%.c=$(O)/tools/%)

STATIC_LIB = $(O)/libproxyhdr.a
SHARED_LIB = $(O)/libproxyhdr.so.$(VERSION)
ENGINE_LIB = $(O)/libpprelay.a
NET_LIB = $(O)/libppnet.a
# Everything a tool or a unit test links, in link order.
PRIVATE_LIBS = $(CLI_LIB) $(ENGINE_LIB) $(NET_LIB) $(STATIC_LIB)
PC_FILE = $(O)/libproxyhdr.pc

.PHONY: all lib tools man check check-unit check-bats check-sanitize \
	deps build-deps fuzz bench demo install uninstall clean

all: lib tools man

lib: $(STATIC_LIB) $(SHARED_LIB) $(PC_FILE)
tools: $(TOOL_BIN)
man: $(MAN_OUT)

# Every compile waits for this: with a package missing, make stops with
# that one line instead of a page of compiler errors.
build-deps:
	$(if $(BUILD_MISSING),$(error $(BUILD_MISSING)))

# Each object lists the headers it includes in its .d file (-MMD -MP), so
# touching one header rebuilds only what uses it.
$(O)/%.o: %.c | build-deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

-include $(wildcard $(O)/lib/*.d $(O)/lib/*/*.d $(O)/bin/*.d)
# The tools' objects are kept, not removed as intermediates, so that a
# tool is relinked only when something it is built from changed.
.SECONDARY: $(TOOL_BIN:%=%.o)

$(STATIC_LIB): $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# The version script exports the public API and nothing else, under a
# version node that a later incompatible change can bump with SOVERSION.
$(SHARED_LIB): $(LIB_OBJ) lib/libproxyhdr.map
	$(CC) -shared -Wl,-soname,libproxyhdr.so.$(SOVERSION) \
		-Wl,--version-script,lib/libproxyhdr.map $(ALL_LDFLAGS) \
		-o $@ $(LIB_OBJ)
	ln -sf libproxyhdr.so.$(VERSION) $(O)/libproxyhdr.so.$(SOVERSION)
	ln -sf libproxyhdr.so.$(VERSION) $(O)/libproxyhdr.so

$(ENGINE_LIB): $(ENGINE_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(NET_LIB): $(NET_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(CLI_LIB): $(CLI_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

# The .pc says where the library is; make install writes its own from
# the install's PREFIX, LIBDIR and INCLUDEDIR.
PC_SED = sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

$(PC_FILE): lib/libproxyhdr.pc.in Makefile
	@mkdir -p $(@D)
	$(PC_SED) $< > $@

# Tools link the static archives so they run straight from $(O)/bin, and
# take from them only what they use: pp-send gets no relay engine.
$(O)/bin/%: $(O)/bin/%.o $(PRIVATE_LIBS)
	$(CC) $(ALL_LDFLAGS) -o $@ $< $(PRIVATE_LIBS) \
		$(BSD_LIBS)

$(O)/man/%: man/%.scd | build-deps
	@mkdir -p $(@D)
	$(SCDOC) < $< > $@

$(O)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h tests/unit/*.inc) \
    $(PRIVATE_LIBS) | build-deps
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) -o $@ $< \
		$(PRIVATE_LIBS) $(BSD_LIBS)

# Test tools are built plain even in the sanitized tree: they are the
# load, not what is under test.
$(O)/tools/%: tests/tools/%.c | build-deps
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) $(CPPFLAGS) -O2 -o $@ $<

$(O)/bench/%: bench/%.c $(STATIC_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(STATIC_LIB) $(BSD_LIBS)

deps:
	@sh scripts/deps

# make check: dependencies, the build, the C unit tests and the bats
# suites, then all of it again built with ASan+UBSan into build-sanitize/;
# one summary line for both runs at the end.
SAN_O = build-sanitize
SAN_FLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=all
SAN_UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(SAN_O)/tests/%)
SAN_TEST_TOOL_BIN = $(TEST_TOOL_SRC:tests/tools/%.c=$(SAN_O)/tools/%)

check: deps
	@mkdir -p $(O) && rm -f $(O)/results
	$(MAKE) WERROR=-Werror all $(UNIT_BIN) $(TEST_TOOL_BIN)
	@bash tests/run -o $(O) -l normal -r $(O)/results -s no $(UNIT_BIN)
	$(MAKE) O=$(SAN_O) WERROR=-Werror CFLAGS="$(SAN_FLAGS)" \
		LDFLAGS="$(SAN_FLAGS)" \
		all $(SAN_UNIT_BIN) $(SAN_TEST_TOOL_BIN)
	@bash tests/run -o $(SAN_O) -l sanitize -r $(O)/results -s yes \
		$(SAN_UNIT_BIN)

check-sanitize: deps
	@mkdir -p $(SAN_O) && rm -f $(SAN_O)/results
	$(MAKE) O=$(SAN_O) WERROR=-Werror CFLAGS="$(SAN_FLAGS)" \
		LDFLAGS="$(SAN_FLAGS)" \
		all $(SAN_UNIT_BIN) $(SAN_TEST_TOOL_BIN)
	@bash tests/run -o $(SAN_O) -l sanitize -r $(SAN_O)/results -s yes \
		$(SAN_UNIT_BIN)

# Parts of the suite alone, for quick runs while working.
check-unit: $(UNIT_BIN)
	@bash tests/run -o $(O) -l unit -n bats $(UNIT_BIN)

check-bats: all $(TEST_TOOL_BIN)
	@bash tests/run -o $(O) -l bats -n unit

# libFuzzer over the parser, seeded from the conformance vectors.
fuzz: deps
	$(MAKE) $(O)/fuzz/fuzz_parse
	@sh tests/fuzz/run $(O)/fuzz/fuzz_parse $(FUZZ_SECONDS)

$(O)/fuzz/fuzz_parse: tests/fuzz/fuzz_parse.c $(LIB_SRC) lib/proxyhdr.h
	@mkdir -p $(@D)
	$(FUZZCC) -std=c11 -D_GNU_SOURCE $(CPPFLAGS) -g -O1 -Ilib \
		-fsanitize=fuzzer,address,undefined -o $@ \
		tests/fuzz/fuzz_parse.c $(LIB_SRC)

# The targets that install packages first build in a new make, which
# reads the Makefile after scripts/deps has run.
bench: deps
	$(MAKE) all $(BENCH_BIN) $(TEST_TOOL_BIN)
	@sh bench/run -o $(O) $(BENCH_ARGS)

demo: deps
	$(MAKE) all
	@sh examples/demo.sh $(abspath $(O)/bin)

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(TOOL_BIN) $(DESTDIR)$(BINDIR)
	install -m 644 $(STATIC_LIB) $(DESTDIR)$(LIBDIR)
	install -m 644 $(SHARED_LIB) $(DESTDIR)$(LIBDIR)
	ln -sf libproxyhdr.so.$(VERSION) \
		$(DESTDIR)$(LIBDIR)/libproxyhdr.so.$(SOVERSION)
	ln -sf libproxyhdr.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libproxyhdr.so
	install -m 644 lib/proxyhdr.h $(DESTDIR)$(INCLUDEDIR)
	$(PC_SED) lib/libproxyhdr.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/libproxyhdr.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/libproxyhdr.pc
	for f in $(MAN_OUT); do \
		s=$${f##*.}; install -m 644 $$f $(DESTDIR)$(MANDIR)/man$$s; \
	done

uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(DESTDIR)$(LIBDIR)/libproxyhdr.a \
		$(DESTDIR)$(LIBDIR)/libproxyhdr.so* \
		$(DESTDIR)$(INCLUDEDIR)/proxyhdr.h \
		$(DESTDIR)$(PKGCONFIGDIR)/libproxyhdr.pc
	for f in $(MAN_OUT); do \
		n=$${f##*/}; s=$${n##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$$n; \
	done

clean:
	rm -rf build $(SAN_O) $(O)
