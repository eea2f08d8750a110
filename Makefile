# SPDX-License-Identifier: GPL-2.0-or-later
#
# Thin wrapper over CMake. `make run` mounts the demo namespace at ./mnt;
# `make check` builds with AddressSanitizer and UBSan and runs every test.

BUILD ?= build
CHECK_BUILD ?= build-check
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all build deps run stop check format format-check unit integration \
	bench bench-nfs bench-s3 bench-policy clean

all: build

deps:
	@./packaging/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) -- --no-print-directory

run: build
	@./packaging/demo.sh $(BUILD)/strata

stop:
	@./packaging/demo.sh --stop

check: deps format-check
	@cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug \
		-DSTRATA_SANITIZE=ON -DSTRATA_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(CHECK_BUILD) -j $(JOBS) -- --no-print-directory
	@cd $(CHECK_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure --timeout 900

# Kernel style, per .clang-format; make check refuses unformatted code.
format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check: deps
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

unit: build
	@cd $(BUILD) && ctest -L unit --output-on-failure

integration: build
	@cd $(BUILD) && ctest -L integration --output-on-failure

bench: build
	@./integration/bench/local.sh $(BUILD)/strata

bench-nfs: build
	@./integration/bench/nfs.sh $(BUILD)/strata

bench-s3: build
	@./integration/bench/s3.sh $(BUILD)/strata

bench-policy: build
	@./integration/bench/policy.sh $(BUILD)/strata

clean:
	rm -rf $(BUILD) $(CHECK_BUILD)
