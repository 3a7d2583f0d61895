#!/usr/bin/env bash
# Start-up costs, on the demo's registry (ferro-oci-server, plain HTTP, 127.0.0.1):
#   1. `signet verify` of the demo's cosign-signed image against `cosign verify --key` of the same
#      image (hyperfine, RUNS runs each, the same registry): the ratio of the means.
#   2. the first answer of a freshly started `signet serve` against its next answer, for two
#      images never seen (both cold verifications; the difference is what a start costs the first
#      request), over STARTS starts.
#   scripts/bench-startup.sh [RUNS=30] [STARTS=10]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
RUNS=${1:-30}
STARTS=${2:-10}
command -v hyperfine >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
"$ROOT/scripts/install-test-deps.sh" >/dev/null
cargo build -q --release -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"
start_registry
push_samples
(cd "$WORK/content"; for i in $(seq 1 $((2 * STARTS))); do echo "startup $i" > "s-$i.txt"
  "$TOOLS/bin/oras" push --plain-http "$REG/startup/img-$i:v1" "s-$i.txt:application/vnd.oci.image.layer.v1.tar" >/dev/null; done)

start_provider "$SIGNET" "$ROOT/scripts/demo-config.yaml"   # fills $CONFIG
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
DIGEST=$("$TOOLS/bin/oras" resolve --plain-http "$REG/demo/app:v1")
echo "== signet verify vs cosign verify --key, $RUNS runs each"
( cd "$WORK/content"; export HOME="$WORK/home"
  hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/hyperfine.json" \
    "$SIGNET --log error verify --config $CONFIG $REG/demo/app@$DIGEST" \
    "$TOOLS/bin/cosign verify --key cosign.pub --insecure-ignore-tlog=true --allow-http-registry $REG/demo/app@$DIGEST" \
    > "$WORK/hyperfine.txt" 2>&1 || { cat "$WORK/hyperfine.txt"; exit 1; } )
python3 - "$WORK/hyperfine.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
s, c = r[0]["mean"] * 1000, r[1]["mean"] * 1000
print(f"signet verify: {s:.1f} ms mean; cosign verify --key: {c:.1f} ms mean; ratio {s / c:.2f}x")
PY

echo "== first answer after a start vs the next one (two cold images each), $STARTS starts"
for n in $(seq 1 "$STARTS"); do
  start_provider "$SIGNET" "$ROOT/scripts/demo-config.yaml" >/dev/null
  python3 - "$PROVIDER_PORT" "$REG" "$n" >> "$WORK/firsts.txt" <<'PY'
import http.client, json, sys, time
port, reg, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", int(port))
def ask(image):
    body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": [image]}})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/verify", body=body, headers={"Content-Type": "application/json"})
    json.loads(conn.getresponse().read())
    return (time.perf_counter() - t0) * 1000
first = ask(f"{reg}/startup/img-{2 * n - 1}:v1")
second = ask(f"{reg}/startup/img-{2 * n}:v1")
print(f"{first:.3f} {second:.3f}")
PY
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
done
awk '{f += $1; s += $2; if ($1 - $2 > m) m = $1 - $2} END {printf "first answer %.2f ms, next %.2f ms (means); the start costs the first request %.2f ms (worst %.2f ms)\n", f/NR, s/NR, (f-s)/NR, m}' "$WORK/firsts.txt"
