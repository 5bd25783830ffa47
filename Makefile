# Signet: `make run` serves Caddyfile.example on http://localhost:8080,
# `make test` runs every test.
GO       ?= go
BIN      := bin/caddy
FUZZTIME ?= 30s
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test lint fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/caddy

run: build
	./$(BIN) run --config Caddyfile.example --adapter caddyfile

test:
	$(GO) test -count=1 ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Runs each fuzz target for FUZZTIME (plain `make test` runs their seed corpora).
fuzz:
	@set -e; for pkg in ./verifier ./keystore ./caddymodule; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
