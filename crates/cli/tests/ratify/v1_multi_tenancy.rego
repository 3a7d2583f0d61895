# The condition of Ratify v1's library/multi-tenancy-validation/template.yaml (notaryproject/ratify
# v1.4.4, 22483a6; the same on the v1 branch), in our words: library/default's condition with
# "[<metadata.namespace>]<image>" keys. Provider "ratify-provider". A Pod is denied when
# - the provider's answer carries a system error;
# - any key came back as an item error;
# - an answered key has isSuccess == false (the boolean: a missing isSuccess, or the string
#   "false", admits), and only if that answer also has a timestamp and a traceID: the deny
#   message is built from both, so without either the rule is undefined and the Pod admitted.
package ratifycontract.v1_multi_tenancy

import data.ratifycontract.keys
import rego.v1

answer := external_data({"provider": "ratify-provider", "keys": keys.namespaced})

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
	timestamp := r[1].timestamp
	trace := r[1].traceID
	msg := sprintf("%s: %s failed verification (trace %s)", [timestamp, r[0], trace])
}
