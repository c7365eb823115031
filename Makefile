# llmgw developer targets. The two a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
BUF := tools/node_modules/.bin/buf
NPM_SMOKE := conformance/npm/node_modules/.package-lock.json
WEB_DEPS := web/node_modules/.package-lock.json
LLMGW_DEV_POSTGRES ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
# The ClickHouse engine the analytics tests run (analytics/chtest): chDB's libchdb.so from npm,
# cached outside the repository (566 MB unpacked, 178 MB download). LLMGW_LIBCHDB overrides the
# path; analytics/chtest looks in the same default place.
CHDB_PACKAGE := @chdb/lib-linux-x64-gnu@26.7.3-stable.1
LLMGW_LIBCHDB ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/llmgw/libchdb.so
export LLMGW_LIBCHDB

.PHONY: run build gateway test generate check-generate lint bench bench-allocs bench-baseline tools clean chdb web check-web test-web

## run: build and start the gateway on its embedded defaults (SQLite in ./data, port 8080);
## ARGS are passed to serve: make run ARGS='--config gateway.yaml'
run:
	$(GO) run ./cmd/llmgw serve $(ARGS)

## build: build bin/llmgw
build:
	$(GO) build -o bin/llmgw ./cmd/llmgw

# The gateway-only build's tags. grpcnotrace leaves out gRPC's request tracing
# (golang.org/x/net/trace), whose html/template would make the linker keep every exported method
# of every type (README, "The gateway-only build"); layering's TestGatewayOnlyBuild reads this line.
GATEWAY_TAGS := llmgw_gateway_only,grpcnotrace

## gateway: build bin/llmgw-gateway, the gateway-only build (serve --role gateway, usage to Kafka),
## statically as the Dockerfile does
gateway:
	CGO_ENABLED=0 $(GO) build -tags $(GATEWAY_TAGS) -o bin/llmgw-gateway ./cmd/llmgw

## test: every test, with the race detector; needs Postgres (LLMGW_TEST_POSTGRES, default 127.0.0.1:5432)
## and, for the web app's browser test (app/web_e2e_test.go), Debian's chromium package
test: npm-deps chdb test-web
	$(GO) test -race -count=1 ./...

## test-web: the web app's unit tests (Vitest)
test-web: $(WEB_DEPS)
	cd web && npx vitest run

## web: rebuild the web app into web/dist, which the binary embeds (committed: make run needs no Node)
web: $(WEB_DEPS)
	cd web && npm run build

## check-web: fail when the committed web/dist is not what `make web` builds from web/ and gen/ts
check-web: web
	@test -z "$$(git status --porcelain -- web/dist)" || { git status --porcelain -- web/dist; echo 'web/dist is stale: run make web and commit'; exit 1; }

## tools: install the pinned code generators from npm (buf, protoc-gen-es)
tools: $(BUF)
$(BUF): tools/package.json tools/package-lock.json
	# npm install, not npm ci: npm 11 leaves other platforms' optional buf binaries out of the
	# lock file and npm ci then refuses it. The lock still pins every version installed here.
	npm install --prefix tools --no-audit --no-fund
	touch $(BUF)

## chdb: fetch the ClickHouse engine (libchdb.so) the analytics tests start, into $(LLMGW_LIBCHDB)
chdb: $(LLMGW_LIBCHDB)
$(LLMGW_LIBCHDB):
	# npm pack checks the tarball against the registry's integrity hash; only the library is kept.
	mkdir -p '$(dir $@)'
	tmp=$$(mktemp -d '$(dir $@).fetch.XXXXXX') && trap 'rm -rf "$$tmp"' EXIT && \
	npm pack --silent --pack-destination "$$tmp" '$(CHDB_PACKAGE)' >/dev/null && \
	tar -xzf "$$tmp"/*.tgz -C "$$tmp" package/libchdb.so && \
	mv "$$tmp/package/libchdb.so" '$@'

## npm-deps: install the pinned npm packages of the Node SDK smoke test (openai, @anthropic-ai/sdk)
## and of the web app (React, Vite, Vitest, playwright-core)
.PHONY: npm-deps
npm-deps: $(NPM_SMOKE) $(WEB_DEPS)
$(WEB_DEPS): web/package.json web/package-lock.json
	# npm ci works here: web's lock file holds every platform's optional rolldown binary.
	npm ci --prefix web --no-audit --no-fund
	touch $(WEB_DEPS)
$(NPM_SMOKE): conformance/npm/package.json conformance/npm/package-lock.json
	# npm install, not npm ci, as for tools/ above.
	npm install --prefix conformance/npm --no-audit --no-fund
	touch $(NPM_SMOKE)

## generate: rewrite everything generated: gen/ (buf), ent/ (ent), the Postgres migrations
generate: tools
	$(BUF) generate
	$(GO) tool ent generate --feature sql/versioned-migration,sql/execquery ./ent/schema
	LLMGW_DEV_POSTGRES='$(LLMGW_DEV_POSTGRES)' $(GO) run ./ent/migrate/gen

## check-generate: fail when generated code is out of date
check-generate: generate
	@test -z "$$(git status --porcelain -- gen ent proto)" || { git status --porcelain -- gen ent proto; git diff --stat -- gen ent; echo 'generated code is stale: run make generate and commit'; exit 1; }

## lint: buf lint and format, go vet, gofmt
lint: tools
	$(BUF) lint
	$(BUF) format -d --exit-code
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'); echo 'gofmt needed'; exit 1; }
	@! git grep -nE '^(<<<<<<< |>>>>>>> |=======$$)' -- ':!gen' ':!ent' || { echo 'merge conflict markers committed'; exit 1; }

## bench: fixed-rate load test: direct vs bare httputil.ReverseProxy vs llmgw vs llmgw with rate limits and budgets, gateway pinned to one core;
## more with BENCH_FLAGS, e.g. make bench BENCH_FLAGS="-rates 250,1000,2000,5000" (or "-stream", "-saturate"); see bench/README.md
bench:
	$(GO) run ./bench/loadbench run $(BENCH_FLAGS)

# The in-process benchmarks whose allocations per request CI holds to bench/allocs.txt: the
# request path (surface, pipeline, guards, routing, usage record, metrics), each deterministic
# (no parallel benchmark: their counts vary with scheduling).
ALLOC_BENCH_PKGS := ./gateway/openaiapi ./gateway/pipeline ./gateway/quota ./gateway/governance ./gateway/snapshot ./gateway/usage ./gateway/metrics ./gateway/chat ./analytics/event
ALLOC_BENCH := ^Benchmark(ChatCompletion|ChatCompletionNoNetwork|CannedTransport|DirectUpstream|Harness|ChatStream|ChatOneTarget|ChatOneTargetTraced|Routing|Guard|Match|Route|RouteFor|LogRecorder|Observe|DecodeRequest|Marshal)$$
ALLOC_BENCH_RUN = $(GO) test -run '^$$' -bench '$(ALLOC_BENCH)' -benchmem -count 5 -benchtime 2000x $(ALLOC_BENCH_PKGS)

## bench-allocs: run the request path's benchmarks and fail when a median allocs/op grew more
## than 10 % (and 1 allocation) over bench/allocs.txt (CI runs it)
bench-allocs:
	@mkdir -p bin
	$(ALLOC_BENCH_RUN) > bin/allocs.txt || { cat bin/allocs.txt; exit 1; }
	$(GO) run ./bench/allocguard -baseline bench/allocs.txt -max-increase 0.10 bin/allocs.txt

## bench-baseline: rewrite bench/allocs.txt from this tree (after an intended change)
bench-baseline:
	$(ALLOC_BENCH_RUN) > bench/allocs.txt

clean:
	rm -rf bin
