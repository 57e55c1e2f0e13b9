#!/usr/bin/env bash
# Opens the demo org's review workbook in a real spreadsheet program (LibreOffice Calc, headless),
# exports every sheet, and checks what a reviewer relies on: every sheet opens, each report sheet
# has the reviewer columns, its rows match the CSV, and dates come out as dates, not text.
# Needs Debian's libreoffice-calc-nogui (apt-get install -y --no-install-recommends libreoffice-calc-nogui).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run --quiet --release -- --quiet report --snapshot fixtures/demo-org --out "$work/reports" --as-of 2026-11-20T09:00:00Z
soffice --headless --norestore -env:UserInstallation="file://$work/lo" \
  --convert-to 'csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,false,false,false,-1' \
  --outdir "$work/sheets" "$work/reports/access-review.xlsx" >/dev/null 2>&1
python3 - "$work" <<'PY'
import csv, sys, re, pathlib
work = pathlib.Path(sys.argv[1])
sheets = {p.stem.removeprefix("access-review-"): p for p in (work / "sheets").glob("*.csv")}
expected = {"Summary", "Inactive", "Never logged in", "Certinia retained", "Certinia lacking", "Access matrix", "Run"}
assert set(sheets) == expected, f"sheets: {sorted(sheets)}"
pairs = {"Inactive": "inactive-users", "Never logged in": "never-logged-in", "Certinia retained": "certinia-access-retained",
         "Certinia lacking": "certinia-access-lacking", "Access matrix": "access-matrix"}
for sheet, slug in pairs.items():
    rows = list(csv.reader(open(sheets[sheet], encoding="utf-8")))
    assert rows[0][-3:] == ["Decision", "Reviewer", "Comment"], rows[0]
    ours = list(csv.reader(open(work / "reports" / f"{slug}.csv", encoding="utf-8")))
    assert len(rows) == len(ours), f"{sheet}: {len(rows)} rows in Calc, {len(ours)} in the CSV"
    # Dates: Calc shows a real date cell in its date format; text would come out as ISO 8601 with a T.
    for name in ("CreatedDate", "LastLoginDate"):
        if name in rows[0]:
            col = rows[0].index(name)
            dates = [r[col] for r in rows[1:] if r[col]]
            assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)?", d) for d in dates), dates[:3]
            assert dates or name == "LastLoginDate", f"{sheet}: no {name}"
    print(f"ok: {sheet}: {len(rows) - 1} rows, reviewer columns, dates")
PY
echo "LibreOffice Calc opened the workbook: every check passed"
