# The condition of Ratify's library/sbom-validation/template.yaml (notaryproject/ratify v1.4.4,
# 22483a6; unchanged on main a79b4b4), in our words, with its signature requirement off as it
# ships. Provider "ratify-provider", plain image keys. A Pod is denied when
# - the provider's answer carries a system error, or any key came back as an item error;
# - for an answered key, the FIRST report with type == "sbom" is missing or its isSuccess is not
#   true; with require_signature on, that report's nestedResults must also hold an entry with
#   artifactType "application/vnd.cncf.notary.signature" and a truthy isSuccess.
package ratifycontract.sbom

import data.ratifycontract.keys
import rego.v1

answer := external_data({"provider": "ratify-provider", "keys": keys.images})

require_signature := false

violation contains {"msg": msg} if {
	answer.system_error != ""
	msg := sprintf("system error: %s", [answer.system_error])
}

violation contains {"msg": msg} if {
	count(answer.errors) > 0
	some e in answer.errors
	msg := sprintf("item error for %s: %s", [e[0], e[1]])
}

violation contains {"msg": msg} if {
	some r in answer.responses
	not sbom_ok(r[1])
	msg := sprintf("%s has no verified SBOM", [r[0]])
}

sbom_ok(v) if {
	sboms := [rep | some rep in v.verifierReports; rep.type == "sbom"]
	first := sboms[0]
	first.isSuccess == true
	signed(first)
}

signed(_) if not require_signature

signed(rep) if {
	require_signature
	some n in rep.nestedResults
	n.artifactType == "application/vnd.cncf.notary.signature"
	n.isSuccess
}
