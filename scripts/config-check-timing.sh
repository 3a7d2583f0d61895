#!/usr/bin/env bash
# How long `signet config check` takes to reject hostile YAML (issue 9, point 6): files at the
# 1 MiB configuration limit that nest flow collections, flow mappings, block sequences and block
# mappings as deep as their size allows, plus a file just over the limit. Prints one line per file
# with the wall time of a release build (best of 3).
#   scripts/config-check-timing.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cargo build -q --release -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
limit = 1024 * 1024
files = {
    "flow-sequences": "server:\n  listen: " + "[" * (limit - 20),
    "flow-mappings": "server:\n  listen: " + "{a: " * ((limit - 20) // 4),
    "block-sequences": "verifiers:\n" + "- " * ((limit - 20) // 2) + "x",
    "block-mappings": "".join(" " * i + "k:\n" for i in range(1400)),
    "over-the-limit": "# " + "x" * limit + "\n",
}
for name, text in files.items():
    open(f"{w}/{name}.yaml", "w").write(text)
PY
for f in flow-sequences flow-mappings block-sequences block-mappings over-the-limit; do
  best=""
  for _ in 1 2 3; do
    start=$(date +%s%N)
    out=$("$SIGNET" config check "$WORK/$f.yaml" 2>&1 || true)
    t=$(( ($(date +%s%N) - start) / 1000000 ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  printf '%-16s %8d bytes  %5d ms  %s\n' "$f" "$(stat -c %s "$WORK/$f.yaml")" "$best" "$(echo "$out" | head -1 | cut -c1-110)"
done
