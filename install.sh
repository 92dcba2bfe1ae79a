#!/usr/bin/env bash
# Installs claude-api from this checkout: Bun (if missing), the locked dependencies, and the compiled binary
# dist/claude-api. Safe to run again.
#   ./install.sh            install and build
#   ./install.sh --test     install, build, type-check and run the whole test suite
#   PREFIX=/usr/local ./install.sh   also copy the binary to $PREFIX/bin
set -euo pipefail
cd "$(dirname "$0")"
BUN_VERSION=1.4.5
LOCAL_BUN="$PWD/.tools/bun/node_modules/.bin/bun"

say() { printf '%s\n' "$*" >&2; }

run_tests=false
for arg in "$@"; do
  case "$arg" in
    --test) run_tests=true ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) say "install.sh: unknown option '$arg' (use --test or --help)"; exit 2 ;;
  esac
done

find_bun() {
  if command -v bun >/dev/null 2>&1 && bun --version >/dev/null 2>&1; then command -v bun; return 0; fi
  for candidate in "$HOME/.bun/bin/bun" "$LOCAL_BUN"; do
    if [ -x "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then echo "$candidate"; return 0; fi
  done
  return 1
}

if ! BUN=$(find_bun); then
  command -v npm >/dev/null 2>&1 || { say "install.sh: neither bun nor npm found; install Node.js (with npm) first"; exit 1; }
  say "Installing Bun $BUN_VERSION from the npm registry into .tools/bun ..."
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix .tools/bun "bun@$BUN_VERSION" >&2
  BUN="$LOCAL_BUN"
  # The real binary arrives through an optional dependency; the package's postinstall puts it in place.
  if ! "$BUN" --version >/dev/null 2>&1; then (cd .tools/bun/node_modules/bun && node install.js >&2); fi
  "$BUN" --version >/dev/null 2>&1 || { say "install.sh: Bun did not install correctly"; exit 1; }
fi
say "Using Bun $("$BUN" --version) at $BUN"
export PATH="$(dirname "$BUN"):$PATH"

"$BUN" install --frozen-lockfile >&2
"$BUN" run build >&2
say "Built $PWD/dist/claude-api"

if [ -n "${PREFIX:-}" ]; then
  mkdir -p "$PREFIX/bin"
  install -m 0755 dist/claude-api "$PREFIX/bin/claude-api"
  say "Installed $PREFIX/bin/claude-api"
fi

if $run_tests; then
  say "Type-checking ..."
  "$BUN" run typecheck >&2
  say "Running the tests ..."
  exec "$BUN" test
fi
echo "$PWD/dist/claude-api"
