#!/usr/bin/env bash
# Makes sure everything `make test` needs is on this machine, installing what
# it can and failing loudly (never skipping) when something cannot be had.
set -euo pipefail

fail() { echo "make test: $*" >&2; exit 1; }

command -v go >/dev/null || fail "Go is missing: install Go 1.26 from https://go.dev/dl/"
command -v node >/dev/null || fail "Node.js (20 or newer) is missing: apt-get install nodejs"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js $node_major is too old: the client tests need 20 or newer (WebCrypto, node --test)"

chromium=${PARLEY_CHROMIUM:-}
if [ -z "$chromium" ]; then
  chromium=$(command -v chromium || command -v chromium-browser || true)
fi
if [ -z "$chromium" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "make test: installing Debian's chromium for the browser tests (about a minute)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
    chromium=$(command -v chromium)
  else
    fail "Chromium is missing and I cannot install it (not root, or no apt-get). Install it yourself: sudo apt-get install chromium (or set PARLEY_CHROMIUM to a Chromium binary)"
  fi
fi
"$chromium" --version >/dev/null 2>&1 || fail "$chromium does not run"

# Firefox for the cross-browser tests (docs/browsers.md): Debian's ESR,
# driven over WebDriver BiDi, which Firefox serves itself (no geckodriver).
firefox=${PARLEY_FIREFOX:-}
if [ -z "$firefox" ]; then
  firefox=$(command -v firefox-esr || command -v firefox || true)
fi
if [ -z "$firefox" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "make test: installing Debian's firefox-esr for the cross-browser tests (about a minute)…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq firefox-esr >/dev/null || fail "apt-get could not install firefox-esr"
    firefox=$(command -v firefox-esr) || fail "firefox-esr was installed but is not on PATH"
  else
    fail "Firefox is missing and I cannot install it (not root, or no apt-get). Install it yourself: sudo apt-get install firefox-esr (or set PARLEY_FIREFOX to a Firefox binary)"
  fi
fi
"$firefox" --version >/dev/null 2>&1 || fail "$firefox does not run"
echo "make test: using $("$chromium" --version 2>/dev/null | head -1), $("$firefox" --version 2>/dev/null | head -1), node $(node --version), $(go version | cut -d' ' -f3)"

# The browser's vendored MLS library (web/vendor/README.md): node tests and
# the embedded client need it.
"$(dirname "$0")/vendor-web.sh" || fail "could not vendor the browser libraries (scripts/vendor-web.sh)"

# --- axe-core (e2e/axe_test.go) and typescript (make lint's tsc) ------------
# Pinned with their integrity hashes in web/package-lock.json; installed into
# web/node_modules (ignored by git, never served).
if [ ! -f web/node_modules/axe-core/axe.min.js ] || [ ! -x web/node_modules/.bin/tsc ]; then
  command -v npm >/dev/null || fail "npm is missing: the accessibility tests need axe-core and make lint needs typescript from npm (apt-get install npm)"
  echo "make deps: installing axe-core and typescript (npm ci in web/)…"
  (cd web && npm ci --no-audit --no-fund >/dev/null) || fail "npm ci in web/ failed: the accessibility tests need axe-core, make lint needs typescript"
fi
