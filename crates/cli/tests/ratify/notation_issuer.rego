# The condition of Ratify's library/notation-issuer-validation/template.yaml (notaryproject/ratify
# v1.4.4, 22483a6; unchanged on main a79b4b4), in our words. Provider "ratify-provider", plain
# image keys, constraint parameter `issuer` (a string). A Pod is denied when
# - the provider's answer carries a system error, or any key came back as an item error;
# - an answered key has isSuccess == false (no timestamp or traceID needed here);
# - an answered key has no report with type == "notation" whose extensions.Issuer equals the
#   parameter byte for byte (a missing verifierReports, type or extensions counts as none);
# - an answered key has a report with type == "notation", isSuccess == false and
#   extensions.Issuer equal to the parameter; the deny message quotes the report's message, so
#   a report without one does not deny by this rule.
package ratifycontract.notation_issuer

import data.ratifycontract.keys
import rego.v1

answer := external_data({"provider": "ratify-provider", "keys": keys.images})

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
	r[1].isSuccess == false
	msg := sprintf("%s failed verification", [r[0]])
}

violation contains {"msg": msg} if {
	some r in answer.responses
	from_issuer := [rep |
		some rep in r[1].verifierReports
		rep.type == "notation"
		rep.extensions.Issuer == input.parameters.issuer
	]
	count(from_issuer) == 0
	msg := sprintf("%s has no notation signature issued by %s", [r[0], input.parameters.issuer])
}

violation contains {"msg": msg} if {
	some r in answer.responses
	some rep in r[1].verifierReports
	rep.type == "notation"
	rep.isSuccess == false
	rep.extensions.Issuer == input.parameters.issuer
	msg := sprintf("%s: a signature issued by %s failed: %s", [r[0], input.parameters.issuer, rep.message])
}
