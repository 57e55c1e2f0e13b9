#!/usr/bin/env bash
# Opens the demo org's review workbook in a real spreadsheet program (LibreOffice Calc, headless)
# and checks what a reviewer relies on:
#   - every sheet opens; each report sheet has the five reviewer columns, its rows match the CSV,
#     and dates and booleans show as such (as LibreOffice displays them, not as stored);
#   - printed to PDF (the workbook's own print setup: landscape, one page wide, header row on every
#     page, "Page N of M"), no cell of any sheet shows ### and every page says which page it is.
# With --docs, it also renders the first page of the Inactive sheet to docs/workbook-page.png, the
# picture the README shows.
# Needs Debian's libreoffice-calc-nogui and poppler-utils
# (apt-get install -y --no-install-recommends libreoffice-calc-nogui poppler-utils); CI does not.
set -euo pipefail
cd "$(dirname "$0")/.."
docs=false
[ "${1:-}" = "--docs" ] && docs=true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A debug build is enough (and much quicker to build than a release one).
cargo build --quiet --bin access-audit
bin="${CARGO_TARGET_DIR:-target}/debug/access-audit"
"$bin" --quiet report --snapshot fixtures/demo-org --out "$work/reports" --as-of 2026-11-20T09:00:00Z
lo() { soffice --headless --norestore -env:UserInstallation="file://$work/lo" "$@" >/dev/null 2>&1; }

# Every sheet as CSV, cells as shown (the 9th token: "save cell contents as shown"; the 12th, -1: all sheets).
lo --convert-to 'csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,true,false,false,-1' \
  --outdir "$work/sheets" "$work/reports/access-review.xlsx"
python3 - "$work" <<'PY'
import csv, sys, re, pathlib
work = pathlib.Path(sys.argv[1])
sheets = {p.stem.removeprefix("access-review-"): p for p in (work / "sheets").glob("*.csv")}
expected = {"Summary", "Instructions", "Inactive", "Never logged in", "Certinia retained", "Certinia lacking",
            "Access matrix", "Run", "Seats"}
assert set(sheets) == expected, f"sheets: {sorted(sheets)}"
pairs = {"Inactive": "inactive-users", "Never logged in": "never-logged-in", "Certinia retained": "certinia-access-retained",
         "Certinia lacking": "certinia-access-lacking", "Access matrix": "access-matrix"}
for sheet, slug in pairs.items():
    rows = list(csv.reader(open(sheets[sheet], encoding="utf-8")))
    assert rows[0][-5:] == ["Decision", "Reviewer", "DecidedOn", "Ticket", "Comment"], rows[0]
    ours = list(csv.reader(open(work / "reports" / f"{slug}.csv", encoding="utf-8")))
    assert len(rows) == len(ours), f"{sheet}: {len(rows)} rows in Calc, {len(ours)} in the CSV"
    # Dates: Calc shows a real date cell in its date format; text would come out as ISO 8601 with a T.
    for name in ("CreatedDate", "LastLoginDate"):
        if name in rows[0]:
            col = rows[0].index(name)
            dates = [r[col] for r in rows[1:] if r[col]]
            assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", d) for d in dates), dates[:3]
            assert dates or name == "LastLoginDate", f"{sheet}: no {name}"
    for name in ("IsActive", "IsFrozen", "CertiniaAccess"):
        col = rows[0].index(name)
        assert {r[col] for r in rows[1:]} <= {"TRUE", "FALSE"}, f"{sheet}: {name} is not shown as TRUE/FALSE"
    print(f"ok: {sheet}: {len(rows) - 1} rows, reviewer columns, dates, booleans")
# The Seats sheet: seats.csv's rows, numbers shown as numbers, booleans as booleans.
rows = list(csv.reader(open(sheets["Seats"], encoding="utf-8")))
ours = list(csv.reader(open(work / "reports" / "seats.csv", encoding="utf-8")))
assert rows[0][:len(ours[0])] == ours[0], (rows[0], ours[0])
assert len(rows) == len(ours), f"Seats: {len(rows)} rows in Calc, {len(ours)} in seats.csv"
for name in ("Certinia", "UsedMismatch"):
    col = rows[0].index(name)
    assert {r[col] for r in rows[1:]} <= {"TRUE", "FALSE"}, f"Seats: {name} is not shown as TRUE/FALSE"
for name in ("Allowed", "Used", "Assigned", "Reclaimable"):
    col = rows[0].index(name)
    assert all(re.fullmatch(r"-?\d+", r[col]) for r in rows[1:]), f"Seats: {name} is not a whole number"
print(f"ok: Seats: {len(rows) - 1} licences, as in seats.csv")
PY

# The workbook printed as it sets itself up.
lo --convert-to pdf --outdir "$work/pdf" "$work/reports/access-review.xlsx"
pdf="$work/pdf/access-review.pdf"
pages=$(pdfinfo "$pdf" | sed -n 's/^Pages: *//p')
if pdftotext -layout "$pdf" - | grep -n '###'; then
  echo "a cell shows ### in LibreOffice's print of the workbook" >&2
  exit 1
fi
# A page's text (read whole: grep -q would stop reading early, and pipefail would see that).
page_text() { pdftotext -f "$1" -l "$1" -layout "$pdf" -; }
inactive=""
for page in $(seq "$pages"); do
  text=$(page_text "$page")
  [[ "$text" == *"Page $page of $pages"* ]] || { echo "page $page has no 'Page $page of $pages'" >&2; exit 1; }
  # The first page of the Inactive sheet: the page header names the sheet.
  if [ -z "$inactive" ] && [[ "$(head -1 <<<"$text")" == *" Inactive "* ]]; then inactive=$page; fi
done
echo "ok: printed to $pages pages, no ###, every page numbered"
[ -n "$inactive" ] || { echo "no page of the Inactive sheet" >&2; exit 1; }
[[ "$(page_text "$inactive")" == *"Decision"*"Comment"* ]] || { echo "the reviewer columns are not on the page" >&2; exit 1; }
echo "ok: the Inactive sheet starts on page $inactive, one page wide, reviewer columns included"
if $docs; then
  pdftoppm -f "$inactive" -l "$inactive" -r 110 -png -singlefile "$pdf" docs/workbook-page
  echo "wrote docs/workbook-page.png"
fi
echo "LibreOffice Calc opened and printed the workbook: every check passed"
