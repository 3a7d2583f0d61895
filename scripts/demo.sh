#!/usr/bin/env bash
# Signet demo, no cluster needed: starts a local OCI registry (ferro-oci-server, with the referrers
# API) on 127.0.0.1, pushes sample images with the real oras and cosign CLIs plus a real Notary
# Project signature layout, starts `signet serve` on localhost, sends Gatekeeper's ProviderRequest
# and prints the verdicts. Everything it starts is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/signet-target}
TOOLS=${SIGNET_TOOLS:-$HOME/.cache/signet-tools}
VECTORS=${SIGNET_VECTORS:-$ROOT/../shared/vectors}
CONFIG_TEMPLATE=${SIGNET_DEMO_CONFIG:-$ROOT/config/demo.yaml}

"$ROOT/scripts/install-test-deps.sh" >/dev/null
echo "== building signet"
cargo build -q -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/debug/signet"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; return 1; }

REG_PORT=$(free_port)
REG=127.0.0.1:$REG_PORT
echo "== starting an OCI registry with the referrers API on $REG"
FERRO_OCI_LISTEN=$REG FERRO_OCI_STORAGE_DIR="$WORK/registry" "$TOOLS/bin/ferro-oci-server" >"$WORK/registry.log" 2>&1 &
PIDS+=($!)
wait_http "http://$REG/v2/"

export HOME="$WORK/home" COSIGN_PASSWORD="" COSIGN_YES=true
mkdir -p "$HOME"
cd "$WORK"
ORAS="$TOOLS/bin/oras"
COSIGN="$TOOLS/bin/cosign"

echo "== pushing sample images"
echo "demo application v1" > app.txt
"$ORAS" push --plain-http "$REG/demo/app:v1" app.txt:application/vnd.oci.image.layer.v1.tar >/dev/null
echo '{"spdxVersion":"SPDX-2.3","name":"demo-app","packages":[]}' > sbom.spdx.json
"$ORAS" attach --plain-http --artifact-type application/spdx+json "$REG/demo/app:v1" sbom.spdx.json:application/spdx+json >/dev/null
"$COSIGN" generate-key-pair >/dev/null 2>&1
APP_DIGEST=$("$ORAS" resolve --plain-http "$REG/demo/app:v1")
"$COSIGN" sign --key cosign.key --tlog-upload=false --allow-http-registry "$REG/demo/app@$APP_DIGEST" >/dev/null 2>&1
"$ORAS" cp -r --from-oci-layout --to-plain-http \
  "$VECTORS/notation/01-oci-e2e-jws/layouts/e2e-valid-signature:v1" "$REG/demo/notation-signed:v1" >/dev/null
echo "just an image" > plain.txt
"$ORAS" push --plain-http "$REG/demo/unsigned:v1" plain.txt:application/vnd.oci.image.layer.v1.tar >/dev/null
echo "   $REG/demo/app:v1             SBOM (oras attach) + cosign signature (.sig tag)"
echo "   $REG/demo/notation-signed:v1 Notary Project signature (referrer)"
echo "   $REG/demo/unsigned:v1        nothing attached"

PROVIDER_PORT=$(free_port); HEALTH_PORT=$(free_port); METRICS_PORT=$(free_port)
sed -e "s/@REGISTRY@/$REG/g" -e "s/@PROVIDER_PORT@/$PROVIDER_PORT/g" \
    -e "s/@HEALTH_PORT@/$HEALTH_PORT/g" -e "s/@METRICS_PORT@/$METRICS_PORT/g" \
    "$CONFIG_TEMPLATE" > "$WORK/signet.yaml"
"$SIGNET" config check "$WORK/signet.yaml"
echo "== starting the provider on 127.0.0.1:$PROVIDER_PORT"
"$SIGNET" serve --config "$WORK/signet.yaml" >"$WORK/signet.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$HEALTH_PORT/readyz"

REQUEST=$(cat <<JSON
{"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[
 "$REG/demo/app:v1","[team-a]$REG/demo/notation-signed:v1","$REG/demo/unsigned:v1","$REG/demo/missing:v1","not a reference"]}}
JSON
)
echo "== POST /ratify/gatekeeper/v1/verify (the path Ratify's Provider objects use)"
curl -s -X POST -H 'Content-Type: application/json' --data "$REQUEST" \
  "http://127.0.0.1:$PROVIDER_PORT/ratify/gatekeeper/v1/verify" > "$WORK/response.json"
python3 - "$WORK/response.json" <<'PY'
import json, sys
resp = json.load(open(sys.argv[1]))["response"]
for item in resp.get("items", []):
    v = item.get("value") or {}
    verdict = "PASS" if v.get("isSuccess") and not item.get("error") else "FAIL"
    print(f"\n{verdict}  {item['key']}")
    if v.get("subject"): print(f"      subject: {v['subject']}")
    if v.get("errorReason"): print(f"      {v['errorReason']}: {v.get('message','')}")
    for r in v.get("verifierReports", []):
        print(f"      report {r['verifierName']} {r['artifactType']} success={r['isSuccess']}")
    for u in v.get("unverifiedReferrers", []):
        print(f"      found  {u['artifactType']} {u['referenceDigest'][:19]}… (no verifier configured)")
    if item.get("error"): print(f"      item error: {item['error']}")
PY
echo
echo "== the same images through 'signet verify --output text'"
"$SIGNET" --log warn verify --config "$WORK/signet.yaml" --output text "$REG/demo/app:v1" "$REG/demo/unsigned:v1" || true
echo
echo "(full JSON response: rerun with SIGNET_DEMO_KEEP=1 to keep $WORK)"
if [ "${SIGNET_DEMO_KEEP:-0}" = 1 ]; then trap - EXIT; echo "kept $WORK; stop pids ${PIDS[*]} yourself"; fi
