"""A synthetic OCI registry for benchmarks (scripts/bench-memory.sh): every repository exists and
holds one image, a manifest made up from the repository's name (so each repository's digest
differs), reachable by any tag and by its digest; the referrers API answers an empty list; any
other tag (the referrers tag schema, cosign's .sig/.att tags) is unknown. Plain HTTP on
127.0.0.1, no authentication, the standard library only.

  python3 scripts/synthetic-registry.py PORT
"""
import hashlib
import json
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_INDEX = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": []}).encode()
ROUTE = re.compile(r"^/v2/(?P<repo>.+)/(?P<kind>manifests|referrers)/(?P<ref>[^/]+)$")


def manifest_of(repo):
    layer = hashlib.sha256(repo.encode()).hexdigest()
    body = json.dumps({
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                   "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": f"sha256:{layer}", "size": 1}],
    }, separators=(",", ":")).encode()
    return body, "sha256:" + hashlib.sha256(body).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one write per answer, sent at once: headers and body written apart would wait on Nagle's
    # algorithm against the client's delayed ACK (40 ms an answer)
    disable_nagle_algorithm = True
    wbufsize = 64 * 1024

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="application/json", digest=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Docker-Distribution-API-Version", "registry/2.0")
        if digest:
            self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        if self.path in ("/v2/", "/v2"):
            return self.answer(200, b"{}")
        m = ROUTE.match(self.path.split("?")[0])
        if not m:
            return self.answer(404, b'{"errors":[{"code":"NOT_FOUND"}]}')
        repo, kind, ref = m["repo"], m["kind"], m["ref"]
        body, digest = manifest_of(repo)
        if kind == "referrers":
            return self.answer(200, EMPTY_INDEX, INDEX)
        if ref == digest or (":" not in ref and not ref.startswith("sha256-")):
            return self.answer(200, body, MANIFEST, digest)
        return self.answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

    do_HEAD = do_GET


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
