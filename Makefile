# syncrules — make run starts the service, make test runs every test.
# Tool versions are pinned here; go run fetches them through the module proxy.

GO          ?= go
BENCHSTAT   := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -X github.com/syncrules/syncrules/host/internal/cli.version=$(VERSION) \
               -X github.com/syncrules/syncrules/host/internal/cli.sourceDir=$(CURDIR)

WASM_BUILD   := GOOS=wasip1 GOARCH=wasm $(GO) build -trimpath -buildmode=c-shared
DEFAULT_WASM := host/internal/defaultmodule/default.wasm
PLUGINS      := buffer threshold cap packsize tags
PLUGIN_WASM  := $(PLUGINS:%=bin/plugins/%.wasm)
GUEST_SRC    := $(shell find sdk rules -name '*.go' -not -name '*_test.go') go.mod go.sum
HOST_SRC     := $(shell find host sdk -name '*.go' -not -name '*_test.go') $(wildcard host/internal/web/assets/*) host/internal/httpapi/openapi.json go.mod go.sum

# Benchmarks: BENCH selects them, COUNT repeats them for benchstat.
BENCH ?= BenchmarkDefaultRule|BenchmarkCompute|BenchmarkChain|BenchmarkCrossover|BenchmarkDeadlineOvershoot|BenchmarkUpload|BenchmarkAuth
COUNT ?= 6

.PHONY: build wasm run demo test test-race soak bench check fuzz clean screenshots

## build: bin/syncrules with the default rule built in, and the example plugins
build: bin/syncrules $(PLUGIN_WASM)

wasm: $(DEFAULT_WASM) $(PLUGIN_WASM)

.SECONDEXPANSION:
bin/plugins/%.wasm: $$(wildcard plugins/$$*/*.go) $(GUEST_SRC)
	@mkdir -p bin/plugins
	$(WASM_BUILD) -o $@ ./plugins/$*

$(DEFAULT_WASM): $(GUEST_SRC)
	$(WASM_BUILD) -o $@ ./rules/defaultrule/module

bin/syncrules: $(DEFAULT_WASM) $(HOST_SRC)
	$(GO) build -trimpath -tags syncrules_embed -ldflags '$(LDFLAGS)' -o $@ ./host

## run: start the service on 127.0.0.1:8080 with ./config.toml (data in ./data)
run: build
	@echo 'Every /v1 endpoint needs a token. In another terminal:'
	@echo '  TOKEN=$$(bin/syncrules token create --scope admin)   # or export SYNCRULES_ADMIN_TOKEN before make run'
	@echo '  curl -H "Authorization: Bearer $$TOKEN" http://127.0.0.1:8080/v1/shops'
	./bin/syncrules serve --config config.toml

## screenshots: run the page's browser tests (needs chromium) and copy their screenshots to docs/screenshots/
screenshots:
	@rm -rf bin/screenshots && mkdir -p bin/screenshots docs/screenshots
	CI=true $(GO) test -count=1 -run 'TestBrowser' -artifacts -outputdir $(CURDIR)/bin/screenshots ./host/internal/httpapi/ ./host/internal/e2e/
	cp bin/screenshots/_artifacts/*/*.png docs/screenshots/

## demo: start the fakes and the server, connect a demo shop, change a stock in the fake Shopify and show the push arriving at the fake TikTok Shop
demo: build
	$(GO) run ./scripts/demo -bin bin/syncrules

## test: every test, soaks in their short form (under 25 minutes on 2 cores); wasm modules are built from source by the tests themselves
# (the end-to-end package alone takes about 10 minutes on 2 busy cores with PostgreSQL: hence the longer timeout)
test: build
	$(GO) test -count=1 -timeout 30m ./...
	$(MAKE) test-race

## test-race: the concurrent packages under the race detector
test-race:
	$(GO) test -count=1 -race -short -timeout 45m ./host/engine/ ./host/internal/compute/ ./host/internal/registry/ ./host/internal/httpapi/ ./host/internal/store/ ./host/internal/sync/

# Soaks: SYNCRULES_SOAK (a duration) runs each hammer test that long and the
# tests that repeat a race more rounds; without it they run a short form
# that still asserts everything. Property tests draw SOAKCHECKS cases.
SOAKTIME   ?= 1m
SOAKCHECKS ?= 2000
SOAK       := Hammer|Racing|Replicas|Concurrent
RAPID_PKGS  = $(sort $(dir $(shell grep -rl --include='*_test.go' 'pgregory.net/rapid' host sdk rules plugins)))

## soak: the hammers for SOAKTIME (1m) each, natively and under the race detector, then every property test with SOAKCHECKS (2000) cases
soak: build
	SYNCRULES_SOAK=$(SOAKTIME) $(GO) test -count=1 -timeout 3h -run '$(SOAK)' ./...
	SYNCRULES_SOAK=$(SOAKTIME) $(GO) test -count=1 -timeout 3h -race -run '$(SOAK)' ./host/...
	$(GO) test -count=1 -timeout 3h $(addprefix ./,$(RAPID_PKGS)) -args -rapid.checks=$(SOAKCHECKS)

## bench: the benchmarks of BENCHMARKS.md, COUNT times, summarised by benchstat
bench: build
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(COUNT) ./... | tee bench.txt
	$(GO) run $(BENCHSTAT) bench.txt

## check: formatting, vet (native and wasip1), staticcheck and a tidy go.mod
check:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./sdk/... ./rules/... ./plugins/... ./examples/...
	$(GO) run $(STATICCHECK) ./...
	$(GO) mod tidy -diff

## fuzz: every Fuzz target of the module for FUZZTIME (30s) each; FUZZ=FuzzLoad runs the targets matching it
FUZZTIME ?= 30s
FUZZ     ?= .
fuzz:
	@grep -r --include='*_test.go' -o '^func Fuzz[A-Za-z0-9_]*' host sdk rules plugins | grep -E -- '$(FUZZ)' | \
	while IFS=: read -r file fn; do \
		target=$${fn#func }; \
		echo "$$target in ./$$(dirname $$file) for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./$$(dirname $$file) || exit 1; \
	done

clean:
	rm -rf bin $(DEFAULT_WASM) bench.txt
