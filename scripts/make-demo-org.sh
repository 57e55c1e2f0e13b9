#!/usr/bin/env bash
# Regenerates fixtures/demo-org: the simulator serves its made-up demo org
# ("Northwind Consulting", 300 users), and the real access-audit binary pulls it.
# Run it only to change the demo data on purpose; review the diff, then commit.
# --no-pushdown: the demo keeps the profile-owned assignments, as the first demo snapshot did.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --workspace --bins
token="demo-$(date +%s)-$RANDOM"
log=$(mktemp)
SIM_ACCESS_TOKEN="$token" target/debug/sf-sim --demo --port 0 >"$log" 2>/dev/null &
sim=$!
trap 'kill $sim 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do grep -q listening "$log" && break; sleep 0.1; done
url=$(sed -n 's/.*listening on //p' "$log")
rm -rf fixtures/demo-org
SF_ACCESS_TOKEN="$token" target/debug/access-audit pull --no-pushdown --instance-url "$url" --out fixtures/demo-org
# The org lives on 127.0.0.1 for the pull; give the evidence the fictional org's own address,
# so that the workbook's user links look like a real org's. Only the manifest changes, and
# verify checks the data files' hashes, not the manifest's.
python3 - <<'PY'
import json
p = "fixtures/demo-org/manifest.json"
m = json.load(open(p))
m["org"]["instance_url"] = "https://northwind-consulting.my.salesforce.com"
open(p, "w").write(json.dumps(m, indent=2) + "\n")
PY
target/debug/access-audit verify fixtures/demo-org
