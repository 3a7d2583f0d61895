# The condition of Ratify v2's library/multi-tenancy-validation/template.yaml (notaryproject/ratify
# main a79b4b4; the same in v2.0.0-beta.1, fc48792), in our words: v2 library/default's condition
# with "[<metadata.namespace>]<image>" keys. Provider "ratify-gatekeeper-provider". Denied when
# - the provider's answer carries a system error, or any key came back as an item error;
# - an answered key has succeeded == false (the boolean: a missing succeeded admits).
# Nothing else of the answer is read.
package ratifycontract.v2_multi_tenancy

import data.ratifycontract.keys
import rego.v1

answer := external_data({"provider": "ratify-gatekeeper-provider", "keys": keys.namespaced})

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
	r[1].succeeded == false
	msg := sprintf("%s failed verification", [r[0]])
}
