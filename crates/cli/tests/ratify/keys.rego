# The keys every Ratify library template sends to its provider (one external_data call per
# admission), in our words: the image of every initContainers entry, then of every
# ephemeralContainers entry, then of every containers entry, of the Pod object itself
# (spec.template is not read), in that order, duplicates kept. The multi-tenancy templates put
# "[<metadata.namespace>]" in front of each image; with no metadata.namespace they build no key.
package ratifycontract.keys

import rego.v1

images := array.concat(
	array.concat(
		[c.image | some c in input.review.object.spec.initContainers],
		[c.image | some c in input.review.object.spec.ephemeralContainers],
	),
	[c.image | some c in input.review.object.spec.containers],
)

namespaced := [key |
	some image in images
	key := concat("", ["[", input.review.object.metadata.namespace, "]", image])
]
