# SPDX-License-Identifier: LGPL-2.1-or-later
# The README's two commands are `make demo` and `make check`; each installs
# what is missing first (tools/deps.sh).
PREFIX ?= /usr/local
BUILD := build/release
JOBS := $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps release demo check install bench clean

all: release

deps:
	@tools/deps.sh $(DEPS_FOR)

release: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

demo: release
	@./$(BUILD)/examples/demo

check: DEPS_FOR = check
check: deps
	@tools/check.sh

install: release
	@cmake --install $(BUILD) --prefix $(PREFIX)

# Every benchmark at full length (~15 min): one table on stdout,
# docs/BENCHMARKS.md and docs/bench-*.svg regenerated (tools/bench.sh).
bench: DEPS_FOR = bench
bench: deps
	@tools/bench.sh --build $(BUILD)

clean:
	rm -rf build
