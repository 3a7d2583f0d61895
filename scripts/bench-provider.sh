#!/usr/bin/env bash
# Load benchmark of the provider: a release build of `signet serve` against a local registry
# (ferro-oci-server) with the demo's sample images, driven by wrk with Gatekeeper-shaped
# ProviderRequests of 3 keys (an image with an SBOM and a cosign signature, one with a Notary
# Project signature, one unsigned). Two runs: verdict cache on (the steady state) and off (every
# request resolves the tags and discovers referrers anew). Prints wrk's latency distribution.
#   scripts/bench-provider.sh [DURATION=10s] [CONNECTIONS=8]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
DURATION=${1:-10s}
CONNECTIONS=${2:-8}
command -v wrk >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
"$ROOT/scripts/install-test-deps.sh" >/dev/null
cargo build -q --release -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"

start_registry
push_samples

cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":["$REG/demo/app:v1","[team-a]$REG/demo/notation-signed:v1","$REG/demo/unsigned:v1"]}}'
LUA

for cache in 60s 0s; do
  { grep -v '^cache:' "$ROOT/scripts/demo-config.yaml"; printf 'cache:\n  ttl: %s\n' "$cache"; } > "$WORK/template-$cache.yaml"
  start_provider "$SIGNET" "$WORK/template-$cache.yaml"
  echo "== cache ttl $cache: wrk -t2 -c$CONNECTIONS -d$DURATION, 3 keys per request"
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PROVIDER_PORT/v1/verify" \
    | grep -E "Latency|50%|90%|99%|Requests/sec|requests in|Non-2xx|Socket errors"
  kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'
done
