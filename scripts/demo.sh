#!/usr/bin/env bash
# Signet demo, no cluster needed: starts a local OCI registry (ferro-oci-server, with the referrers
# API) on 127.0.0.1, pushes sample images with the real oras and cosign CLIs plus a real Notary
# Project signature layout, starts `signet serve` on localhost, sends Gatekeeper's ProviderRequest
# and prints the verdicts. Everything it starts is stopped on exit.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
CONFIG_TEMPLATE=${SIGNET_DEMO_CONFIG:-$ROOT/scripts/demo-config.yaml}

"$ROOT/scripts/install-test-deps.sh" >/dev/null
echo "== building signet"
cargo build -q -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/debug/signet"

echo "== starting an OCI registry with the referrers API"
start_registry
echo "== pushing sample images to $REG"
push_samples
echo "   $REG/demo/app:v1             SBOM (oras attach) + cosign signature (.sig tag)"
echo "   $REG/demo/notation-signed:v1 Notary Project signature (referrer)"
echo "   $REG/demo/unsigned:v1        nothing attached"

echo "== starting the provider"
start_provider "$SIGNET" "$CONFIG_TEMPLATE"
echo "   provider on 127.0.0.1:$PROVIDER_PORT"

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
"$SIGNET" --log warn verify --config "$CONFIG" --output text "$REG/demo/app:v1" "$REG/demo/unsigned:v1" || true
echo
