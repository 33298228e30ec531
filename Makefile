# callrecd — build, run, test. `make help` lists the targets.
SHELL      := /bin/bash
GO         ?= go
VERSION    ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -X main.version=$(VERSION)
BIN        := bin/callrecd
TOOLS      := $(CURDIR)/build/tools
STATICCHECK_VERSION := v0.8.2
RUN_DIR    := build/run

.PHONY: help build run demo test test-unit test-lab test-browser bench bench-wrk bench-lab lint fmt-check ci deps sdk-deps tools clean build-guard \
	lab-install lab-up lab-down

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  %-10s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

# build/ holds caches (the Asterisk chroot, tools); its own go.mod keeps ./... out of it.
build-guard:
	@mkdir -p build && [ -f build/go.mod ] || printf 'module ignore\n' > build/go.mod

build: build-guard ## build bin/callrecd
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/callrecd

# Serves the index and health endpoints against the example configuration,
# with its files under build/run, while it retries the PBX link.
run: build ## run callrecd with the example config (Ctrl-C stops it)
	@mkdir -p $(RUN_DIR)
	CALLRECD_DATABASE__PATH=$(RUN_DIR)/callrecd.db CALLRECD_STORAGE__ROOT=$(RUN_DIR)/recordings \
	CALLRECD_EXPORTS__DIR=$(RUN_DIR)/exports CALLRECD_SMTP__HOST= \
		./$(BIN) migrate -c callrecd.example.yaml
	CALLRECD_DATABASE__PATH=$(RUN_DIR)/callrecd.db ./$(BIN) import -c callrecd.example.yaml testdata/import.example.yaml
	@mkdir -p $(RUN_DIR)/spool
	CALLRECD_DATABASE__PATH=$(RUN_DIR)/callrecd.db CALLRECD_STORAGE__ROOT=$(RUN_DIR)/recordings \
	CALLRECD_EXPORTS__DIR=$(RUN_DIR)/exports CALLRECD_PBX__ASTERISK__RECORDING_SPOOL=$(RUN_DIR)/spool \
		./$(BIN) serve -c callrecd.example.yaml

# The README's first command: the lab, callrecd attached to it, three real
# calls (recorded, paused/resumed, transferred out and stopped), then where
# to look. Ctrl-C stops everything; DEMO_EXIT=1 stops after printing.
demo: build-guard ## run callrecd on the Asterisk lab with three real calls and show the results
	scripts/demo

deps: sdk-deps ## install what the tests need (ffmpeg with MP3/AMR encoders, the Asterisk lab, Wazo's SDK, Chromium)
	scripts/install-media-deps
	scripts/asterisk-lab install
	scripts/install-browser

# Wazo's JavaScript SDK, exactly as package-lock.json pins it, for the
# compatibility test in integration/wazosdk (run with the lab tests).
sdk-deps:
	cd integration/wazosdk && npm ci --no-audit --no-fund --ignore-scripts

# Every test: the unit tests and, with build tag lab, the tests against the
# real Asterisk lab, which is brought up for them and always taken down again.
# With build tag browser, the web page's tests drive a real headless Chromium
# (screenshots under build/artifacts/web).
# -p 1: the lab tests of different packages share one PBX.
# build/lab.lock: one lab per machine (fixed loopback ports); whoever uses it
# holds the lock from up to down.
TEST_TAGS := lab,browser
ARTIFACTS := $(CURDIR)/build/artifacts
test: deps build-guard ## run every test, the real-Asterisk and browser ones included
	flock build/lab.lock bash -c "trap 'scripts/asterisk-lab down' EXIT; scripts/asterisk-lab up && \
		CALLRECD_ARTIFACTS=$(ARTIFACTS)/web $(GO) test -tags $(TEST_TAGS) -p 1 -count=1 ./..."

test-unit: build-guard ## run the unit tests only (nothing installed, no lab)
	$(GO) test -count=1 ./...

test-lab: build-guard ## run every test against a lab already up (make lab-up)
	CALLRECD_ARTIFACTS=$(ARTIFACTS)/web $(GO) test -tags $(TEST_TAGS) -p 1 -count=1 ./...

test-browser: build-guard ## the web page's tests in headless Chromium (scripts/install-browser first)
	CALLRECD_ARTIFACTS=$(ARTIFACTS)/web $(GO) test -tags browser -count=1 ./web/

lab-install: ## build the cached Asterisk 22 chroot (build/asterisk-chroot)
	scripts/asterisk-lab install

lab-up: ## start the lab's PBX and peer Asterisk instances (loopback)
	scripts/asterisk-lab up

lab-down: ## stop the lab and unmount everything
	scripts/asterisk-lab down

bench: build-guard ## run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

bench-wrk: build-guard ## GET /cdr under wrk from its own process (BENCH_ROWS=1000000 for the full index)
	scripts/bench-wrk

bench-lab: lab-install build ## load on the lab: start/stop lag and CPU at 50 calls (BENCH_LAB_FLAGS="-n 100 ...")
	flock build/lab.lock bash -c 'trap "scripts/asterisk-lab down" EXIT; scripts/asterisk-lab up && \
		$(GO) run ./internal/lab/cmd/labbench -build=false $(BENCH_LAB_FLAGS)'

tools: build-guard
	@[ -x $(TOOLS)/staticcheck ] || GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }

lint: tools fmt-check ## go vet + staticcheck (pinned) + gofmt
	$(GO) vet ./...
	$(GO) vet -tags $(TEST_TAGS) ./...
	$(TOOLS)/staticcheck ./...
	$(TOOLS)/staticcheck -tags $(TEST_TAGS) ./...

ci: test lint ## what CI runs

clean: ## remove build outputs (keeps the cached Asterisk chroot)
	rm -rf bin $(RUN_DIR)

# The fault soak (on demand, about 11 minutes with the lab held): 50 concurrent recorded
# calls for 10 minutes while callrecd is SIGKILLed, its ARI link cut, its index held busy,
# its storage (a tmpfs) filled below storage.min_free and the PBX restarted; the report
# says what was lost, doubled or left open (exit 1 if anything was).
# SOAK_FLAGS="-n 20 -d 3m -seed 42 -json build/soak.json -faults kill,ws_cut".
.PHONY: soak
soak: lab-install build ## fault soak on the lab: 50 calls for 10 min, every fault kind (SOAK_FLAGS=...)
	flock build/lab.lock bash -c 'trap "scripts/asterisk-lab down" EXIT; scripts/asterisk-lab up && \
		$(GO) run ./internal/lab/cmd/soak -build=false $(SOAK_FLAGS)'
