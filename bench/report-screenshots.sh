#!/usr/bin/env bash
# Renders delta-stats --html reports of the tiny test models in a real browser (Debian's chromium, headless) at
# two window widths, to look at by eye (issue 15, Reports). Outside CI: the structural facts the screenshots
# show (legend inside the heat map's viewBox, a colour bar, zero cells labelled, widths relative to the page)
# are checked without a browser by DeltaReportLayoutTest. Usage:
#   bench/report-screenshots.sh [OUT_DIR]     (default /tmp/delta-report-screenshots)
# Writes OUT_DIR/{ft1,dare}.html and OUT_DIR/{ft1,dare}-{1280,560}.png:
#   ft1:  testdata/tiny-llama ft1 against its base (a small model: 2 layers, short heat maps);
#   dare: ft1 after `mergestream dare --drop-rate 0.9` (nine deltas in ten are 0: every median |delta| is 0,
#         so the heat map of medians has zero cells only) except the MLP projections (--exclude: kept whole).
# Needs chromium (apt-get install -y chromium); runs niced.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-/tmp/delta-report-screenshots}"
browser="$(command -v chromium || command -v chromium-browser || true)"
[[ -n "$browser" ]] || { echo "report-screenshots: chromium not found (apt-get install -y chromium)" >&2; exit 1; }
mkdir -p "$out"
ms="$root/bin/mergestream"
models="$root/testdata/tiny-llama"
rm -rf "$out/dare-model"
nice -n 19 "$ms" dare -q --base "$models/base" --model "$models/ft1" --drop-rate 0.9 --seed 7 \
  --exclude '.*mlp\.(up|down|gate)_proj' -o "$out/dare-model"
nice -n 19 "$ms" delta-stats -q --base "$models/base" --model "$models/ft1" --html "$out/ft1.html" > /dev/null
nice -n 19 "$ms" delta-stats -q --base "$models/base" --model "$out/dare-model" --html "$out/dare.html" > /dev/null
for page in ft1 dare; do
  for width in 1280 560; do
    # a tall window: the whole page in one image; --hide-scrollbars keeps the width the page's own
    nice -n 19 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,4200" \
      --screenshot="$out/$page-$width.png" "file://$out/$page.html" 2>/dev/null
    echo "$out/$page-$width.png"
  done
done
