# acdbridge: `make run` shows it working, `make test` checks it; both need only Go.
GO      ?= go
BIN     := bin/acdbridge
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/acdbridge/acdbridge/bridge/cli.version=$(VERSION) -X github.com/acdbridge/acdbridge/bridge/cli.commit=$(COMMIT)

.PHONY: build run test lint integration bench bench-backfill fuzz proto clean

# Code generators for `make proto`, pinned; installed into bin/tools.
TOOLS                      := $(CURDIR)/bin/tools
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) .

# The first run: the bridge on its embedded defaults (in-process simulator,
# embedded NATS, everything on 127.0.0.1). Ctrl-C stops it.
run: build
	./$(BIN) run

test: lint
	$(GO) test -count=1 ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# Installs (apt-get) and starts on loopback the real servers the suite needs,
# runs the integration suite against them and the built binary, and stops
# them again.
integration: build
	./scripts/integration.sh

# Go benchmarks, then those against real servers (Kamailio, PostgreSQL,
# MariaDB; installed and started as by `make integration`), then the
# bridge's resident memory at 100,000 agents.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	./scripts/integration.sh bench
	./scripts/bench-memory.sh 75

# Opt-in (about 30 minutes at the default): a 90-day backfill of
# BACKFILL_SESSIONS simulated sessions into SQLite (scripts/bench-backfill.sh).
BACKFILL_SESSIONS ?= 1000000
bench-backfill: build
	./scripts/bench-backfill.sh $(BACKFILL_SESSIONS)

# Each fuzz target for FUZZTIME (default 20s).
FUZZTIME ?= 20s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# Regenerates plugins/proto/v1 from adapter.proto with the pinned tools
# (no protoc needed: buf compiles in Go). A test fails when it is stale.
proto:
	GOBIN=$(TOOLS) $(GO) install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(TOOLS) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	cd plugins/proto && $(TOOLS)/buf generate

clean:
	rm -rf bin
