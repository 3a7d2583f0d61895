# The condition of Ratify's library/notation-nested-validation/template.yaml (notaryproject/ratify
# v1.4.4, 22483a6; unchanged on main a79b4b4), in our words, without walk() (the tests' regorus
# build has no walk, see library/README.md). Provider "ratify-provider", plain image keys. A Pod
# is denied when
# - the provider's answer carries a system error, or any key came back as an item error;
# - an answered key HAS verifierReports, and that list, or the nestedResults list of any report
#   at any depth, lacks an entry with isSuccess == true, artifactType
#   "application/vnd.cncf.notary.signature" and a subject (any value). An empty, null or
#   non-array list lacks it. The top-level isSuccess is not read, and an answer without
#   verifierReports is admitted (the template then has nothing to look at).
# Depth: Signet nests reports at most discovery.maxDepth (<= 8) levels deep, so reports are
# visited at levels 1 to 8 explicitly; the lists checked are verifierReports and the
# nestedResults of every visited report.
package ratifycontract.notation_nested

import data.ratifycontract.keys
import rego.v1

answer := external_data({"provider": "ratify-provider", "keys": keys.images})

signature := "application/vnd.cncf.notary.signature"

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
	unvouched(r[1])
	msg := sprintf("%s: a list of reports has no verified notation signature with a subject", [r[0]])
}

# A list vouches when one entry is a verified notation signature with a subject. (The is_array
# guards keep regorus, which refuses `some .. in null` where OPA is undefined, in step.)
vouched(list) if {
	is_array(list)
	some entry in list
	entry.isSuccess == true
	entry.artifactType == signature
	_ = entry.subject
}

below(reports) := {n |
	some rep in reports
	is_array(rep.nestedResults)
	some n in rep.nestedResults
}

visited(v) := l1 | l2 | l3 | l4 | l5 | l6 | l7 | l8 if {
	l1 := {rep | is_array(v.verifierReports); some rep in v.verifierReports}
	l2 := below(l1)
	l3 := below(l2)
	l4 := below(l3)
	l5 := below(l4)
	l6 := below(l5)
	l7 := below(l6)
	l8 := below(l7)
}

unvouched(v) if {
	top := v.verifierReports
	not vouched(top)
}

unvouched(v) if {
	_ = v.verifierReports
	some rep in visited(v)
	list := rep.nestedResults
	not vouched(list)
}
