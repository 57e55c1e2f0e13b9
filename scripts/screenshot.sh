#!/usr/bin/env bash
# Renders the demo org's report.html in headless Chromium and saves docs/report.png (the README's picture).
# Needs Debian's chromium (apt-get install -y --no-install-recommends chromium). Run after changing the
# report's look; review the picture, then commit it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
cargo run --quiet --release -- --quiet report --snapshot fixtures/demo-org --out "$out/reports" --as-of 2026-11-20T09:00:00Z
grep -qi '<script' "$out/reports/report.html" && { echo "report.html contains a script" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$out/profile" --window-size=1280,1500 \
  --screenshot="$PWD/docs/report.png" "file://$out/reports/report.html" 2>/dev/null
rm -rf "$out"
echo "docs/report.png updated"
