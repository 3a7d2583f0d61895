#!/usr/bin/env bash
# Makes the envelopes crates/notation/benches/verify.rs measures, with implementations
# independent of Signet: openssl for keys and certificates (valid 100 years, so the committed
# fixtures stay valid), Python `cryptography` for JWS signatures and pycose for COSE
# (the venv of scripts/install-test-deps.sh). Rerun only to change the fixtures:
#   scripts/make-notation-bench-fixtures.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/crates/notation/benches/fixtures
PY=${SIGNET_TOOLS:-$HOME/.cache/signet-tools}/venv/bin/python
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > root.ext
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' > leaf.ext
openssl req -x509 -new -nodes -newkey rsa:3072 -subj "/C=US/ST=WA/O=Signet Bench/CN=Bench Root" \
  -keyout root.key -out root.pem -days 36500 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
leaf() { # name, newkey args...
  local name=$1; shift
  openssl req -new -nodes "$@" -subj "/C=US/ST=WA/O=Signet Bench/CN=$name" -keyout "$name.key" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA root.pem -CAkey root.key -CAcreateserial -out "$name.pem" \
    -days 36500 -sha384 -extfile leaf.ext 2>/dev/null
  openssl x509 -in "$name.pem" -outform DER -out "$name.der"
}
leaf p256 -newkey ec -pkeyopt ec_paramgen_curve:P-256
leaf rsa3072 -newkey rsa:3072
openssl x509 -in root.pem -outform DER -out root.der
# The artifact the envelopes sign (fixed; the bench verifies against the same descriptor).
TARGET='{"targetArtifact":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9","size":517}}'
NOW=$(date +%s)
cat > jws.py <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.serialization import load_pem_private_key
key_path, alg, leaf_der, root_der, payload, now = sys.argv[1:7]
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
import datetime
t = datetime.datetime.fromtimestamp(int(now), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
protected = b64(json.dumps({"alg": alg, "cty": "application/vnd.cncf.notary.payload.v1+json",
    "crit": ["io.cncf.notary.signingScheme"], "io.cncf.notary.signingScheme": "notary.x509",
    "io.cncf.notary.signingTime": t}).encode())
pl = b64(payload.encode())
data = f"{protected}.{pl}".encode()
key = load_pem_private_key(open(key_path, 'rb').read(), None)
h = {'256': hashes.SHA256(), '384': hashes.SHA384(), '512': hashes.SHA512()}[alg[2:]]
if alg.startswith('PS'):
    sig = key.sign(data, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
else:
    r, s = utils.decode_dss_signature(key.sign(data, ec.ECDSA(h)))
    n = (key.curve.key_size + 7) // 8
    sig = r.to_bytes(n, 'big') + s.to_bytes(n, 'big')
x5c = [base64.b64encode(open(p, 'rb').read()).decode() for p in (leaf_der, root_der)]
print(json.dumps({"payload": pl, "protected": protected, "header": {"x5c": x5c}, "signature": b64(sig)}))
PY
"$PY" jws.py p256.key ES256 p256.der root.der "$TARGET" "$NOW" > "$OUT/jws-es256.json"
"$PY" jws.py rsa3072.key PS384 rsa3072.der root.der "$TARGET" "$NOW" > "$OUT/jws-ps384.json"
for pair in "p256 ES256 cose-es256" "rsa3072 PS384 cose-ps384"; do
  set -- $pair
  cat > spec.json <<J
{"key": "$WORK/$1.key", "chain": ["$WORK/$1.der", "$WORK/root.der"], "alg": "$2", "scheme": "notary.x509",
 "signing_time": $NOW, "payload": $(printf '%s' "$TARGET" | "$PY" -c 'import json,sys; print(json.dumps(sys.stdin.read()))'), "tag": true}
J
  "$PY" "$ROOT/crates/notation/tests/tools/make_cose.py" spec.json "$OUT/$3.cose"
done
cp root.pem "$OUT/root.pem"
echo "fixtures written to $OUT"
