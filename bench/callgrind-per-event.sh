#!/bin/bash
# x86 instructions per event of `mmc replay`, start-up and most JIT warm-up cancelled:
# callgrind of the whole journal minus callgrind of its first half, divided by the events between.
#   bench/callgrind-per-event.sh <checkout with dist/> <first-half.journal> <whole.journal> <events between>
# The journals: `mmc generate --events 100000 --accounts 5000 [--calm] --out x.ndjson`,
# `head -50000 x.ndjson > h.ndjson`, then `mmc import` each. Takes minutes (valgrind).
# Counts repeat within ~±1k per event on one machine at one load, not across loads (the heap's
# timer-driven work lands elsewhere in a slower run): compare builds side by side only.
set -euo pipefail
[ $# -eq 4 ] || { sed -n 2,4p "$0"; exit 2; }
D=$1 H=$2 W=$3 N=$4
count() {
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file=/dev/null \
    node --single-threaded --hash-seed=1 "$D/dist/src/cli/main.js" replay "$1" --json 2>&1 >/dev/null |
    awk '/Collected/ {print $4}'
}
A=$(count "$H"); B=$(count "$W")
echo "first=$A whole=$B per_event=$(( (B - A) / N ))"
