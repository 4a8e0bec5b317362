#!/usr/bin/env bash
# Installs the browser libraries pinned in web/vendor/package-lock.json and
# copies the ES modules the client loads (through the import map in
# web/html/room.html) to web/vendor/node_modules/. `npm ci` verifies each
# tarball against the lockfile's sha512 integrity, so what we serve is
# byte for byte what the lockfile names. Idempotent: nothing happens when
# the copy was made from the same lockfile. The copied files are downloads
# and are never committed (.gitignore).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
vendor="$root/web/vendor"
dest="$vendor/node_modules"
stamp="$dest/.lock-sha256"

fail() { echo "vendor-web: $*" >&2; exit 1; }
command -v npm >/dev/null || fail "npm is missing (it comes with Node.js: apt-get install npm)"

want=$(sha256sum "$vendor/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$vendor/package.json" "$vendor/package-lock.json" "$tmp/"
echo "vendor-web: npm ci (pinned browser libraries, integrity-checked)…"
(cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) ||
  fail "npm ci failed: check the network or the npm registry, then re-run scripts/vendor-web.sh"

# Only what a browser runs: ES module .js files, the package.json files
# (node resolves bare specifiers through them in the node tests, and
# @hpke's esm/package.json says "module") and the licences. No CommonJS
# (script/), TypeScript sources, type declarations or source maps.
rm -rf "$dest.new"
mkdir -p "$dest.new"
(cd "$tmp/node_modules" &&
  find . -type d -name script -prune -o -type f \( -name '*.js' -o -name package.json -o -name 'LICENSE*' \) -print0 |
  tar --null -T - -cf -) | tar -C "$dest.new" -xf -
[ -f "$dest.new/ts-mls/dist/src/index.js" ] || fail "ts-mls did not install as expected (no dist/src/index.js)"
echo "$want" > "$dest.new/.lock-sha256"
rm -rf "$dest"
mv "$dest.new" "$dest"
echo "vendor-web: $(find "$dest" -name '*.js' | wc -l) modules in web/vendor/node_modules"
