# callbook-server dashboard browser tests (examples/server/e2e, run by examples/server/tests/browser.rs):
# Debian's chromium (toolbox.md §7) and the e2e folder's node_modules (playwright-core, pinned in its
# package-lock.json; it downloads no browser). Idempotent; sourced by .ci/run, which defines as_root and $ROOT.
E2E_DIR="${ROOT:-$(git rev-parse --show-toplevel)}/examples/server/e2e"
if [ ! -x /usr/bin/chromium ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
fi
E2E_LOCK_SUM=$(sha256sum "$E2E_DIR/package-lock.json" | cut -d' ' -f1)
if [ ! -d "$E2E_DIR/node_modules/playwright-core" ] \
  || [ "$(cat "$E2E_DIR/node_modules/.callbook-lock.sha256" 2>/dev/null)" != "$E2E_LOCK_SUM" ]; then
  (cd "$E2E_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$E2E_LOCK_SUM" > "$E2E_DIR/node_modules/.callbook-lock.sha256"
fi
export CALLBOOK_TEST_BROWSER=1
echo "browser tests: $(/usr/bin/chromium --version 2>/dev/null | tail -n1), node $(node --version), playwright-core $(node -p 'require(process.argv[1]).version' "$E2E_DIR/node_modules/playwright-core/package.json")"
