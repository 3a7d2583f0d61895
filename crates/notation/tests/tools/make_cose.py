"""Makes Notary Project COSE_Sign1 envelopes with pycose, an implementation independent of
Signet's, for crates/notation/tests/cose.rs.

usage: make_cose.py SPEC.json OUT.cose
SPEC: {"key": PEM path, "chain": [DER paths, leaf first], "alg": "ES256"|...|"PS512",
       "scheme": str, "signing_time": int|null, "authentic_signing_time": int|null,
       "expiry": int|null, "crit": [str]|null (default: as the spec requires),
       "cty": str|null, "extra_protected": {str: str}, "payload": str, "tag": bool}
"""
import json
import sys

import cbor2
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pycose import algorithms
from pycose.headers import Algorithm, ContentType, Critical, X5chain
from pycose.keys import EC2Key, RSAKey
from pycose.messages import Sign1Message

ALGS = {
    "ES256": algorithms.Es256, "ES384": algorithms.Es384, "ES512": algorithms.Es512,
    "PS256": algorithms.Ps256, "PS384": algorithms.Ps384, "PS512": algorithms.Ps512,
}

spec = json.load(open(sys.argv[1]))
private = load_pem_private_key(open(spec["key"], "rb").read(), None)
key_type = RSAKey if spec["alg"].startswith("PS") else EC2Key
key = key_type._from_cryptography_key(private)

phdr = {
    Algorithm: ALGS[spec["alg"]],
    ContentType: spec.get("cty") or "application/vnd.cncf.notary.payload.v1+json",
    "io.cncf.notary.signingScheme": spec["scheme"],
}
crit = ["io.cncf.notary.signingScheme"]
if spec.get("signing_time") is not None:
    phdr["io.cncf.notary.signingTime"] = cbor2.CBORTag(1, spec["signing_time"])
if spec.get("authentic_signing_time") is not None:
    phdr["io.cncf.notary.authenticSigningTime"] = cbor2.CBORTag(1, spec["authentic_signing_time"])
    crit.append("io.cncf.notary.authenticSigningTime")
if spec.get("expiry") is not None:
    phdr["io.cncf.notary.expiry"] = cbor2.CBORTag(1, spec["expiry"])
    crit.append("io.cncf.notary.expiry")
for k, v in spec.get("extra_protected", {}).items():
    phdr[k] = v
phdr[Critical] = spec["crit"] if spec.get("crit") is not None else crit

chain = [open(p, "rb").read() for p in spec["chain"]]
msg = Sign1Message(phdr=phdr, uhdr={X5chain: chain}, payload=spec["payload"].encode())
msg.key = key
open(sys.argv[2], "wb").write(msg.encode(tag=spec.get("tag", True)))
