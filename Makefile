# planfix-telegram — every entry point a person or CI needs.
# A fresh machine needs only Node.js/npm and make: `npm ci` brings Bun itself (pinned in package.json).

BUN     := node_modules/.bin/bun
BIN     := dist/planfix-telegram
SOURCES := $(shell find src drizzle -type f 2>/dev/null) package.json

.PHONY: setup run build test typecheck bench drill fuzz release clean

setup: node_modules/.setup-done

node_modules/.setup-done: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build: setup $(BIN)

$(BIN): $(SOURCES)
	@mkdir -p dist
	$(BUN) build src/main.ts --compile --minify-whitespace --minify-syntax --sourcemap=none --outfile $(BIN)

# Runs the appliance on its embedded defaults (port 8080, ./data).
run: build
	./$(BIN)

typecheck: setup
	$(BUN) x tsc --noEmit -p tsconfig.json

# Sets up everything, typechecks, builds the binary the end-to-end tests run, and runs every test.
# The last line is `N passed, N failed`.
test: setup typecheck build
	@bash scripts/test.sh

bench: build
	$(BUN) run bench/run.ts

drill: build
	$(BUN) run bench/drill.ts

fuzz: build
	$(BUN) run bench/fuzz.ts

# Loopback Telegram + fake Planfix + the appliance, two numbers online, and what to try next
# (docs/demo.md). Ctrl-C stops all three.
.PHONY: demo
demo: build
	$(BUN) scripts/demo.ts

# Release binaries for linux-x64 and linux-arm64 (Bun cross-compiles; the arm64 runtime comes from the npm
# registry on first use and is cached) and their SHA256SUMS, in dist/release/.
RELEASE_DIR := dist/release
RELEASE_TARGETS := linux-x64 linux-arm64

release: setup
	@rm -rf $(RELEASE_DIR) && mkdir -p $(RELEASE_DIR)
	@for t in $(RELEASE_TARGETS); do \
	  $(BUN) build src/main.ts --compile --target=bun-$$t --minify-whitespace --minify-syntax --sourcemap=none \
	    --outfile $(RELEASE_DIR)/planfix-telegram-$$t || exit 1; \
	done
	cd $(RELEASE_DIR) && sha256sum planfix-telegram-* > SHA256SUMS && cat SHA256SUMS

clean:
	rm -rf dist
