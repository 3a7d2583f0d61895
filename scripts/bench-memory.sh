#!/usr/bin/env bash
# Memory of cached verdicts: a release `signet serve` (the demo's notation and cosign verifiers,
# cache maxEntries above the count) verifies N distinct images served by a synthetic registry
# (scripts/synthetic-registry.py: any repository, a manifest made up from its name, an empty
# referrers list, no cosign tag), 100 keys per request; its RSS (VmRSS) is read before and after
# 1k, 10k and N images. Prints the RSS and the bytes per cached verdict (verdict and tag
# resolution together). The verdicts are NO_SIGNATURE ones (the JSON of a verdict with a
# signature report is larger: see the note printed at the end).
#   scripts/bench-memory.sh [N=100000]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
N=${1:-100000}
cargo build -q --release -p signet --manifest-path "$ROOT/Cargo.toml"
SIGNET="$CARGO_TARGET_DIR/release/signet"
REG=127.0.0.1:$(free_port)
python3 "$ROOT/scripts/synthetic-registry.py" "${REG#*:}" >"$WORK/registry.log" 2>&1 &
PIDS+=($!)
wait_http "http://$REG/v2/"
{ grep -v '^cache:' "$ROOT/scripts/demo-config.yaml"; printf 'cache:\n  ttl: 3600s\n  tagTTL: 3600s\n  maxEntries: %s\n' "$((N * 2))"; } \
  | sed -e 's|keys: \[{file: "@WORK@/content/cosign.pub"}\]|keys: [{file: "@WORK@/cosign.pub"}]|' > "$WORK/template.yaml"
# any P-256 public key will do: no image here is signed
python3 -c 'from cryptography.hazmat.primitives.asymmetric import ec; from cryptography.hazmat.primitives import serialization as s
k = ec.generate_private_key(ec.SECP256R1()).public_key()
open("'"$WORK"'/cosign.pub", "wb").write(k.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))' 2>/dev/null \
  || "$TOOLS/venv/bin/python" -c 'from cryptography.hazmat.primitives.asymmetric import ec; from cryptography.hazmat.primitives import serialization as s
k = ec.generate_private_key(ec.SECP256R1()).public_key()
open("'"$WORK"'/cosign.pub", "wb").write(k.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo))'
start_provider "$SIGNET" "$WORK/template.yaml"
PID=${PIDS[-1]}
python3 - "$PROVIDER_PORT" "$REG" "$N" "$PID" <<'PY'
import http.client, json, sys, time
port, reg, n, pid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def rss():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
def verify(keys):
    body = json.dumps({"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": keys}})
    conn.request("POST", "/v1/verify", body=body, headers={"Content-Type": "application/json"})
    answer = json.loads(conn.getresponse().read())
    bad = [i for i in answer["response"]["items"] if i.get("error") or i["value"].get("errorReason") != "NO_SIGNATURE"]
    assert not bad, bad[:2]
    return answer
sample = verify([f"{reg}/warmup/img:v1"])["response"]["items"][0]["value"]
time.sleep(0.5)
base = rss()
print(f"RSS after start and one verification: {base / 2**20:.1f} MiB")
done, t0 = 0, time.time()
for mark in [m for m in (1000, 10000, n) if m <= n]:
    while done < mark:
        batch = [f"{reg}/synthetic/img-{i}:v1" for i in range(done, min(done + 100, mark))]
        verify(batch)
        done += len(batch)
    time.sleep(0.5)
    now = rss()
    print(f"{done:>7} cached verdicts: RSS {now / 2**20:.1f} MiB, {(now - base) / done:.0f} bytes per verdict ({time.time() - t0:.0f} s)")
print(f"a NO_SIGNATURE verdict's JSON is {len(json.dumps(sample, separators=(',', ':')))} bytes")
PY
