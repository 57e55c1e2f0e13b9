#!/usr/bin/env bash
# Renders the demo org's reports in headless Chromium, for the README's pictures:
#   docs/report.png            report.html at 1,400 px (a browser on a laptop)
#   docs/email-600.png         email.html at 600 px (a mail client's reading pane)
#   docs/email-420.png         email.html at 420 px (a phone)
#   docs/email-dark-420.png    email.html at 420 px in dark mode (prefers-color-scheme: dark)
#   docs/report-retained.png   report.html's "Certinia access retained" section alone, wide enough for every column
#   docs/report-seats.png      report.html's Seats section alone
# Needs Debian's chromium (apt-get install -y --no-install-recommends chromium); CI does not.
# Run after changing the look; review the pictures (no table may need sideways scrolling), then commit.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build --quiet --bin access-audit
target="${CARGO_TARGET_DIR:-target}"
"$target/debug/access-audit" --quiet report --snapshot fixtures/demo-org --out "$out/reports" --as-of 2026-11-20T09:00:00Z
for page in report.html email.html; do
  if grep -qiE '<script|<svg' "$out/reports/$page" && [ "$page" = email.html ]; then
    echo "$page contains a script or an SVG" >&2; exit 1
  fi
done
shot() { # width height file page [extra flags]
  chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --disable-sync --no-first-run --hide-scrollbars --user-data-dir="$out/profile-$3" --window-size="$1,$2" \
    "${@:5}" --screenshot="$PWD/docs/$3" "file://$out/reports/$4" 2>/dev/null
}
# A desktop Chromium window is never narrower than about 500 px: the digest is laid out in a frame
# of exactly the width a mail client or a phone gives it.
for w in 600 420; do
  printf '<!DOCTYPE html><body style="margin:0"><iframe src="email.html" width="%s" height="3000" style="border:0;display:block"></iframe>' "$w" >"$out/reports/frame-$w.html"
done
# One section of the page alone (the others hidden), for the pictures of a single report.
only() { # section-id file
  sed "s#</head>#<style>.page{max-width:none} .page > *:not(\\#$1){display:none}</style></head>#" \
    "$out/reports/report.html" >"$out/reports/$2"
}
only certinia-access-retained retained.html
only seats seats.html
shot 1400 1800 report.png report.html
shot 2500 900 report-retained.png retained.html
shot 1400 1000 report-seats.png seats.html
shot 600 2200 email-600.png frame-600.html
shot 420 2200 email-420.png frame-420.html
shot 420 1400 email-dark-420.png frame-420.html --force-dark-mode
echo "docs/report.png, docs/report-retained.png, docs/report-seats.png, docs/email-600.png, docs/email-420.png, docs/email-dark-420.png updated"
