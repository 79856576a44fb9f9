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
	$(GO) test -count=1 -timeout 20m ./...

## bench: scheduler micro-benchmarks (the load comparison is added to this target by the harness)
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./runtime/...

clean:
	rm -rf bin
