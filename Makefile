# megaflow build, run and test targets. Every target needs only Go unless it
# says otherwise, and installs anything else it needs itself.

GO      ?= go
BIN     := bin/megaflow
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

export CGO_ENABLED := 0

.PHONY: all build run test bench plugins clean

all: build

## build: the static binary bin/megaflow
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/megaflow

## run: serve the embedded default configuration (echo flow on :8000)
run: build
	./$(BIN) serve

## test: vet and run every test, end-to-end tests included
test:
	$(GO) vet ./...
	@if command -v node >/dev/null && command -v npm >/dev/null; then \
		echo "node and npm found: the openai npm client test runs, unless npm ci cannot install its package into tests/openai-client"; \
	else \
		echo "node or npm not found: the openai npm client test is skipped (make test-openai runs it)"; \
	fi
	$(GO) test -count=1 -timeout 20m ./...

## test-openai: stream the ChatQnA example end to end from the official
## openai npm package (tests/openai-client); needs node and npm, installs
## the pinned package with npm ci, and fails rather than skips without them
.PHONY: test-openai
test-openai:
	cd tests/openai-client && npm ci --no-audit --no-fund
	MEGAFLOW_TEST_OPENAI=1 $(GO) test -count=1 -run 'TestChatQnA' -v ./tests/chatqna/

## bench: micro-benchmarks, then the standard load comparison: the echo mock
## loaded directly, through megaflow's echo flow and through nginx (when
## installed), in alternating rounds; appends a dated entry to bench/RESULTS.md
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./runtime/... ./bench/...
	$(BIN) bench compare --scenario bench/scenarios/echo.toml \
		--rounds 5 --duration 5s --warmup 1s --record bench/RESULTS.md

## bench-plugins: the plugins of the bench scenarios (make plugins builds the
## bundled ones), into bench/out/plugins
.PHONY: bench-plugins
bench-plugins:
	@mkdir -p bench/out/plugins
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o bench/out/plugins/noop.wasm ./bench/plugins/noop

## bench-scenarios: every flow scenario through megaflow, 3 rounds each,
## appended to bench/RESULTS.md (builds the plugins they need first)
.PHONY: bench-scenarios
bench-scenarios: build plugins bench-plugins
	@for s in sequential-3 parallel-4 conditional chatqna-stream plugin; do \
		echo "$(BIN) bench compare --scenario bench/scenarios/$$s.toml --rounds 3 --duration 5s --warmup 1s --record bench/RESULTS.md"; \
		$(BIN) bench compare --scenario bench/scenarios/$$s.toml --rounds 3 --duration 5s --warmup 1s --record bench/RESULTS.md || exit 1; \
	done

## bench-stall: the same 1 s server stall measured by the closed and the open loop
.PHONY: bench-stall
bench-stall: build
	$(BIN) bench scenario bench/scenarios/stall.toml --duration 5s
	$(BIN) bench scenario bench/scenarios/stall.toml --duration 5s --rate 2000

## plugins: the bundled Wasm plugins, built into plugins/build/NAME.wasm
PLUGINS := $(notdir $(patsubst %/main.go,%,$(wildcard plugins/*/main.go)))
plugins:
	@mkdir -p plugins/build
	@for p in $(PLUGINS); do \
		echo "GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o plugins/build/$$p.wasm ./plugins/$$p"; \
		GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -o plugins/build/$$p.wasm ./plugins/$$p || exit 1; \
	done

## wasm-testdata: rebuild the committed WAT test modules of host/ (installs
## Debian's wabt for wat2wasm when it is missing)
.PHONY: wasm-testdata
wasm-testdata:
	@command -v wat2wasm >/dev/null || apt-get install -y wabt
	@for f in host/testdata/wat/*.wat; do \
		echo "wat2wasm $$f"; wat2wasm "$$f" -o "$${f%.wat}.wasm" || exit 1; \
	done

## sdk: rebuild the example and conformance reference modules of the Rust,
## C and AssemblyScript guest SDKs beside their sources, or under SDK_OUT
## when it is set; installs Debian's rustc, libstd-rust-dev-wasm32,
## clang-14, lld, wasi-libc, libclang-rt-14-dev-wasm32 and nodejs and the
## npm package assemblyscript when they are missing (needs root or sudo)
SDK_LANGS := rust c assemblyscript
.PHONY: sdk conformance sdk-check
sdk:
	@for l in $(SDK_LANGS); do \
		guest-sdk/$$l/build.sh $(if $(SDK_OUT),$(abspath $(SDK_OUT))) || exit 1; \
	done

## conformance: rebuild every SDK's modules (make sdk), then run the
## conformance vectors against them and against the Go reference
conformance: sdk
	$(GO) test -count=1 ./guest-sdk/conformance/

## sdk-check: rebuild every SDK's modules into a temporary directory and run
## the conformance vectors against the committed and the rebuilt modules,
## failing when a rebuilt module behaves differently
sdk-check:
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	$(MAKE) --no-print-directory sdk SDK_OUT="$$out" && \
	MEGAFLOW_SDK_REBUILT="$$out" $(GO) test -count=1 ./guest-sdk/conformance/

## chatqna: OPEA ChatQnA on the bundled mock services, serving OpenAI's chat
## completions API on 0.0.0.0:8000 until Ctrl-C
.PHONY: chatqna
chatqna:
	tests/chatqna/run.sh

clean:
	rm -rf bin
