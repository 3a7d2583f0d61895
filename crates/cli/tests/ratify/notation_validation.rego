# The condition of Ratify's library/notation-validation/template.yml (notaryproject/ratify
# v1.4.4, 22483a6; unchanged on main a79b4b4), in our words. Provider "ratify-provider", plain
# image keys. A Pod is denied when
# - the provider's answer carries a system error;
# - an answered key has no report with type == "notation" and isSuccess == true.
# Nothing reads the item errors: a key that came back as an item error is not among the
# answered keys and is admitted. The top-level isSuccess is not read either.
package ratifycontract.notation_validation

import data.ratifycontract.keys
import rego.v1

answer := external_data({"provider": "ratify-provider", "keys": keys.images})

violation contains {"msg": msg} if {
	answer.system_error != ""
	msg := sprintf("system error: %s", [answer.system_error])
}

violation contains {"msg": msg} if {
	some r in answer.responses
	verified := [rep |
		some rep in r[1].verifierReports
		rep.type == "notation"
		rep.isSuccess == true
	]
	count(verified) == 0
	msg := sprintf("%s has no verified notation signature", [r[0]])
}
