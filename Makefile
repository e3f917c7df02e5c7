# weatherd build and test entry points. `make test` is what CI runs.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO        ?= go
EMULATORS := deploy/local/emulators.sh
PKGS      ?= ./...
# -race: the consumer, elector, poller and lake run goroutines that share state;
# the race detector makes the suite slower (see the figures in README) but
# catches what a passing run cannot show.
TEST_FLAGS ?= -race -count=1 -timeout 40m
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test test-unit bench bench-scale lint run emulators-start emulators-stop emulators-status

## build: static binary bin/weatherd stamped with version and commit
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/weatherd ./cmd/weatherd

## test: start the emulators, run every test, stop the emulators (even on failure); exits with go test's code
test:
	rc=0; trap '$(EMULATORS) stop || echo "make: stopping the emulators failed" >&2' EXIT; \
	$(EMULATORS) start; \
	$(GO) test $(TEST_FLAGS) $(PKGS) || rc=$$?; exit $$rc

## test-unit: run the tests with whatever emulators are (or are not) running
test-unit:
	$(GO) test $(TEST_FLAGS) $(PKGS)

## bench: benchmarks with the emulators up (they are stopped afterwards), ending with a summary table
##        (pipeline vs DuckDB, end-to-end and alert latency on the emulators, scale-out timings
##        of weatherd processes (one run of 10 replica changes); see BENCHMARKS.md)
BENCH_COUNT ?= 3
bench:
	rc=0; trap '$(EMULATORS) stop || echo "make: stopping the emulators failed" >&2' EXIT; \
	$(EMULATORS) start; \
	{ $(GO) test -run '^$$' -bench . -benchtime 1x -count $(BENCH_COUNT) -timeout 30m ./pkg/internal/benchmark/ ./pkg/internal/benchmark/pipelinemem/ && \
	  $(GO) test -run '^$$' -bench ScaleOut -benchtime 1x -count 1 -timeout 15m ./pkg/internal/benchmark/awsbench/ && \
	  $(GO) test -run '^$$' -bench 'BenchmarkDecode|BenchmarkEncodeStages' -benchmem -timeout 10m ./pkg/weather/ ./pkg/lake/; } 2>&1 \
	  | $(GO) run ./pkg/internal/benchmark/cmd/report || rc=$$?; exit $$rc

## bench-scale: the release binary with the simulated provider at 1,000, 10,000 and 100,000 locations
##              (memory stream, default rules, file lake), SCALE_DURATION each; prints memory, CPU and
##              time per tick, lake output per hour (BENCHMARKS.md, "Scale"). Takes 3 x SCALE_DURATION.
SCALE_DURATION ?= 10m
SCALE_SIZES    ?= 1000,10000,100000
bench-scale: build
	$(GO) run ./pkg/internal/benchmark/scale -binary bin/weatherd -duration $(SCALE_DURATION) -sizes $(SCALE_SIZES)

## lint: gofmt and go vet
lint:
	@out=$$(find . -name '*.go' -not -path '*/node_modules/*' -not -path './.git/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## run: run the daemon with ./config.yaml
run:
	$(GO) run ./cmd/weatherd run

emulators-start:
	$(EMULATORS) start

emulators-stop:
	$(EMULATORS) stop

emulators-status:
	$(EMULATORS) status
