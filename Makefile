# Parley — see README.md. `make run` starts a server on http://localhost:8080;
# `make test` runs every test (Go unit, pion integration, Chromium and Firefox end-to-end,
# node) and installs what it needs first.

GO      ?= go
BIN     ?= bin/parley
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all run build test test-go test-js lint deps vendor bench fuzz clean

all: build

# A local instance: the SFU also offers loopback candidates, so a browser on
# this machine reaches it even with no network.
run: vendor
	$(GO) run ./cmd/parley --sfu-loopback=true $(ARGS)

build: vendor
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/parley

deps:
	@scripts/ensure-deps.sh

# The pinned browser libraries (web/vendor/README.md); a no-op when current.
vendor:
	@scripts/vendor-web.sh

test: deps lint test-js test-go

# Every Go test with the race detector; e2e inside a loopback-only network
# namespace when possible (it says when it cannot); lists every skip.
test-go:
	@GO=$(GO) scripts/test-go.sh

test-js:
	node --test web/js/

# staticcheck at a pinned version that supports Go 1.26 (go run fetches
# and caches it on first use).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	@out=$$(git grep -nE '[Ii]ssues? #?[0-9]+|\.\./shared' -- . ':!web/vendor' 2>/dev/null); \
	  if [ -n "$$out" ]; then echo "the project is self-contained: point at a file in the repository (e.g. docs/sfu.md, Not done yet), not at a tracker's issue or a directory outside it:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@[ -x web/node_modules/.bin/tsc ] || { echo "web/node_modules/.bin/tsc is missing: run make deps"; exit 1; }
	@out=$$(for f in $$(ls web/js/*.js | grep -v '\.test\.js$$'); do head -n 1 $$f | grep -qx '// @ts-check' || echo $$f; done); \
	  if [ -n "$$out" ]; then echo "the first line of every web/js module is // @ts-check (web/README.md); missing on:"; echo "$$out"; exit 1; fi
	web/node_modules/.bin/tsc -p web/jsconfig.json

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 60s ./signaling

clean:
	rm -rf bin

# Release builds: static linux/amd64 and linux/arm64 binaries with the
# version stamped in (parley version prints it), and their checksums.
DIST    ?= dist
PLATFORMS ?= linux/amd64 linux/arm64

.PHONY: release
release: vendor
	rm -rf $(DIST) && mkdir -p $(DIST)
	for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath \
	    -ldflags "-s -w -X main.version=$(VERSION)" \
	    -o $(DIST)/parley-$(VERSION)-$$os-$$arch ./cmd/parley || exit 1; \
	done
	cd $(DIST) && sha256sum parley-* > SHA256SUMS
