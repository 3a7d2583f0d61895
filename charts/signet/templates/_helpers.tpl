{{/* Names and labels. */}}
{{- define "signet.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := .Values.nameOverride | default .Chart.Name -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The ServiceAccount the pods run as. */}}
{{- define "signet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "signet.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "signet.selectorLabels" -}}
app.kubernetes.io/name: {{ .Values.nameOverride | default .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "signet.labels" -}}
{{ include "signet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The service's DNS name, which the serving certificate names. */}}
{{- define "signet.host" -}}
{{- printf "%s.%s.svc" (include "signet.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/*
The serving CA and certificate: given in provider.tls, else the ones generated at the first
install (kept in the TLS Secret across upgrades), else generated now. Returns YAML with ca, crt,
key. Generating draws new keys each time, so only tls.yaml includes it, once, for the Secret and
the Provider's caBundle together.
*/}}
{{- define "signet.tls" -}}
{{- $secretName := printf "%s-tls" (include "signet.fullname" .) -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace $secretName -}}
{{- include "signet.tlsFrom" (dict "root" . "existing" $existing) -}}
{{- end -}}

{{/*
signet.tls given what `lookup` found (`existing`: the TLS Secret of an earlier install, or
empty): kept apart so tests can render it with a Secret where no cluster can answer lookup.
*/}}
{{- define "signet.tlsFrom" -}}
{{- $existing := .existing -}}
{{- with .root -}}
{{- $tls := dict -}}
{{- if and .Values.provider.tls.crt .Values.provider.tls.key -}}
{{- $ca := .Values.provider.tls.cabundle | default .Values.provider.tls.caCert -}}
{{- if not $ca -}}{{- fail "provider.tls.crt is given without provider.tls.cabundle (or caCert): Gatekeeper's Provider needs the CA that issued the serving certificate" -}}{{- end -}}
{{- $_ := set $tls "ca" $ca -}}
{{- $_ := set $tls "crt" .Values.provider.tls.crt -}}
{{- $_ := set $tls "key" .Values.provider.tls.key -}}
{{- else if and $existing $existing.data (index $existing.data "tls.crt") -}}
{{- $_ := set $tls "ca" (index $existing.data "ca.crt" | b64dec) -}}
{{- $_ := set $tls "crt" (index $existing.data "tls.crt" | b64dec) -}}
{{- $_ := set $tls "key" (index $existing.data "tls.key" | b64dec) -}}
{{- else -}}
{{- $ca := genCA (printf "%s-ca" (include "signet.fullname" .)) 3650 -}}
{{- if and .Values.provider.tls.caCert .Values.provider.tls.caKey -}}
{{- $ca = buildCustomCert (.Values.provider.tls.caCert | b64enc) (.Values.provider.tls.caKey | b64enc) -}}
{{- end -}}
{{- $host := include "signet.host" . -}}
{{- $names := list (include "signet.fullname" .) (printf "%s.%s" (include "signet.fullname" .) .Release.Namespace) $host (printf "%s.cluster.local" $host) -}}
{{- $cert := genSignedCert $host nil $names 3650 $ca -}}
{{- $_ := set $tls "ca" $ca.Cert -}}
{{- $_ := set $tls "crt" $cert.Cert -}}
{{- $_ := set $tls "key" $cert.Key -}}
{{- end -}}
{{- toYaml $tls -}}
{{- end -}}
{{- end -}}

{{/* Gatekeeper's CA for mTLS: given, or read from Gatekeeper's webhook Secret. */}}
{{- define "signet.clientCA" -}}
{{- $gk := dict -}}
{{- if not .Values.gatekeeper.clientCA -}}
{{- $gk = lookup "v1" "Secret" .Values.gatekeeper.namespace "gatekeeper-webhook-server-cert" -}}
{{- end -}}
{{- include "signet.clientCAFrom" (dict "root" . "secret" $gk) -}}
{{- end -}}

{{/* signet.clientCA given what `lookup` found (`secret`: Gatekeeper's webhook Secret, or
empty), for the same reason as signet.tlsFrom. */}}
{{- define "signet.clientCAFrom" -}}
{{- $gk := .secret -}}
{{- with .root -}}
{{- if .Values.gatekeeper.clientCA -}}
{{- .Values.gatekeeper.clientCA -}}
{{- else -}}
{{- if and $gk $gk.data (index $gk.data "ca.crt") -}}
{{- index $gk.data "ca.crt" | b64dec -}}
{{- else -}}
{{- fail (printf "gatekeeper.mtls needs Gatekeeper's CA: install Gatekeeper first (its Secret %s/gatekeeper-webhook-server-cert holds it), set gatekeeper.clientCA, or set gatekeeper.mtls=false" .Values.gatekeeper.namespace) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Ratify's trust store names (ca:notationCerts[0]) as Signet store names (notationCerts-0). */}}
{{- define "signet.storeName" -}}
{{- regexReplaceAll "^([a-zA-Z]+):notationCerts\\[([0-9]+)\\]$" . "${1}:notationCerts-${2}" -}}
{{- end -}}

{{/*
Notation's trust stores, as YAML {type: {name: file}}: notationCerts[N] as ca:notationCerts-N
(Ratify's values), and notation.trustStores (type → name → PEM), Signet's own form.
*/}}
{{- define "signet.notationStores" -}}
{{- $stores := dict -}}
{{- range $i, $_ := .Values.notationCerts -}}
{{- $ca := get $stores "ca" | default dict -}}
{{- $_ := set $ca (printf "notationCerts-%d" $i) (printf "/etc/signet/trust/notation/cert-%d.crt" $i) -}}
{{- $_ := set $stores "ca" $ca -}}
{{- end -}}
{{- range $type, $named := .Values.notation.trustStores -}}
{{- $t := get $stores $type | default dict -}}
{{- range $name, $_ := $named -}}
{{- if hasKey $t $name -}}{{- fail (printf "notation.trustStores.%s.%s: the name is taken by notationCerts (ca:notationCerts-N)" $type $name) -}}{{- end -}}
{{- $_ := set $t $name (printf "/etc/signet/trust/notation/%s-%s.crt" $type $name) -}}
{{- end -}}
{{- $_ := set $stores $type $t -}}
{{- end -}}
{{- toYaml $stores -}}
{{- end -}}

{{/*
notation.trustPolicyDocument (notation's trustpolicy.json) as YAML, given as an object or as
text (--set-file); empty when not given. It replaces notation.trustPolicies.
*/}}
{{- define "signet.notationPolicyDocument" -}}
{{- $doc := include "signet.policyDocument" (dict "doc" .Values.notation.trustPolicyDocument "at" "notation.trustPolicyDocument") | fromYaml -}}
{{- if and $doc .Values.notation.trustPolicies -}}
{{- fail "give notation.trustPolicies (Ratify's form) or notation.trustPolicyDocument (notation's trustpolicy.json), not both" -}}
{{- end -}}
{{- with $doc -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{/* A Ratify-style trust policy's level: `level` (what Ratify's chart reads), `verificatonLevel`
(the spelling of Ratify's values.yaml) or `verificationLevel`; strict when none is given. */}}
{{- define "signet.notationLevel" -}}
{{- $i := index . 0 -}}
{{- $p := index . 1 -}}
{{- $levels := list -}}
{{- range $key := list "level" "verificatonLevel" "verificationLevel" -}}
{{- with get $p $key -}}{{- $levels = append $levels . -}}{{- end -}}
{{- end -}}
{{- if gt (len (uniq $levels)) 1 -}}
{{- fail (printf "notation.trustPolicies[%d] gives different levels %s: keep one of level, verificatonLevel, verificationLevel" $i (toJson $levels)) -}}
{{- end -}}
{{- first $levels | default "strict" -}}
{{- end -}}

{{/* A duration as the schema types them (digits and ms, s, m or h) in milliseconds. */}}
{{- define "signet.ms" -}}
{{- $unit := regexReplaceAll "^[0-9]+" . "" -}}
{{- mul (regexFind "^[0-9]+" . | atoi) (get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit) -}}
{{- end -}}

{{/* The verdict cache's ttl: 0s with Ratify's provider.cache.enabled=false, else Ratify's
provider.cache.ttl, else cache.ttl. */}}
{{- define "signet.cacheTTL" -}}
{{- $rc := .Values.provider.cache -}}
{{- if eq (toString $rc.enabled) "false" -}}0s{{- else -}}{{- $rc.ttl | default .Values.cache.ttl -}}{{- end -}}
{{- end -}}

{{/*
cache.redis, checked as Signet checks it and at install: YAML {secret, password, caSecret, caKey}
(the Secret holding hmacKey and password, whether there is a password, the Secret and key holding
the CA), or nothing when cache.redis is off. No message repeats the URL (it may hold a password).
*/}}
{{- define "signet.redis" -}}
{{- $r := .Values.cache.redis -}}
{{- if $r.enabled -}}
{{- if not $r.url -}}
{{- fail "cache.redis.enabled needs cache.redis.url, the Redis to share verdicts through: --set cache.redis.url=redis://redis.example.svc:6379/0 (rediss:// for TLS)" -}}
{{- end -}}
{{- $rest := regexReplaceAll "^rediss?://" $r.url "" -}}
{{- if eq $rest $r.url -}}
{{- fail "cache.redis.url is not a Redis URL: give redis://host:port/db, or rediss://host:port/db for TLS" -}}
{{- end -}}
{{- if contains "@" $rest -}}
{{- if contains ":" (regexReplaceAll "@[^@]*$" $rest "") -}}
{{- fail "cache.redis.url contains a password, which would be in the ConfigMap and in logs: remove it from the URL and give it as cache.redis.password (the chart keeps it in a Secret), or in cache.redis.existingSecret (key password, with cache.redis.existingSecretHasPassword=true)" -}}
{{- end -}}
{{- fail "cache.redis.url contains a user name: remove it from the URL and give it as cache.redis.username" -}}
{{- end -}}
{{- if contains "#" $rest -}}
{{- fail "cache.redis.url has a fragment (#...): Signet never turns off TLS verification; remove it, and give the server's CA in cache.redis.tls.caCert or cache.redis.tls.caSecret" -}}
{{- end -}}
{{- if not (regexMatch "^[^/?]+" $rest) -}}
{{- fail "cache.redis.url names no host: give redis://host:port/db" -}}
{{- end -}}
{{- $tls := hasPrefix "rediss://" $r.url -}}
{{- if and $r.tls.caCert $r.tls.caSecret -}}
{{- fail "give cache.redis.tls.caCert (the CA's PEM) or cache.redis.tls.caSecret (a Secret with ca.crt), not both" -}}
{{- end -}}
{{- if and (or $r.tls.caCert $r.tls.caSecret) (not $tls) -}}
{{- fail "cache.redis.tls.caCert or caSecret is given but cache.redis.url is redis:// (no TLS): use rediss://host:port/db for a TLS Redis, or remove the CA" -}}
{{- end -}}
{{- $password := false -}}
{{- if $r.existingSecret -}}
{{- if $r.hmacKey -}}
{{- fail "give cache.redis.hmacKey or cache.redis.existingSecret (its key hmacKey), not both" -}}
{{- end -}}
{{- if $r.password -}}
{{- fail "give cache.redis.password or cache.redis.existingSecret (its key password), not both" -}}
{{- end -}}
{{- $password = or (not (empty $r.username)) $r.existingSecretHasPassword -}}
{{- else -}}
{{- if $r.existingSecretHasPassword -}}
{{- fail "cache.redis.existingSecretHasPassword is set without cache.redis.existingSecret: name the Secret, or give cache.redis.password" -}}
{{- end -}}
{{- if and $r.username (not $r.password) -}}
{{- fail "cache.redis.username needs a password: set cache.redis.password, or cache.redis.existingSecret with the key password" -}}
{{- end -}}
{{- $key := regexReplaceAll "\\s+$" $r.hmacKey "" -}}
{{- if and $r.hmacKey (lt (len $key) 32) -}}
{{- fail (printf "cache.redis.hmacKey holds %d bytes; it needs at least 32 (e.g. --set cache.redis.hmacKey=$(openssl rand -hex 32)), or leave it empty for a generated one" (len $key)) -}}
{{- end -}}
{{- $password = not (empty $r.password) -}}
{{- end -}}
{{- $ttl := include "signet.cacheTTL" . -}}
{{- $ttlMs := include "signet.ms" $ttl | atoi -}}
{{- if eq $ttlMs 0 -}}
{{- fail "cache.redis needs the verdict cache on, as Redis is its second level: the cache is off (provider.cache.enabled=false, or a ttl of 0s)" -}}
{{- end -}}
{{- $day := 86400000 -}}
{{- $redisTTL := $ttlMs -}}
{{- with $r.ttl -}}
{{- $redisTTL = include "signet.ms" . | atoi -}}
{{- if or (lt $redisTTL 1000) (gt $redisTTL $day) -}}
{{- fail (printf "cache.redis.ttl %s is out of range: give 1s to 24h" .) -}}
{{- end -}}
{{- end -}}
{{- with $r.negativeTTL -}}
{{- if gt (include "signet.ms" . | atoi) $redisTTL -}}
{{- fail (printf "cache.redis.negativeTTL %s is longer than the Redis ttl (cache.redis.ttl, else the cache's): a failed verdict would outlive a passing one" .) -}}
{{- end -}}
{{- end -}}
{{- with $r.timeout -}}
{{- $t := include "signet.ms" . | atoi -}}
{{- if or (lt $t 1) (gt $t 5000) -}}
{{- fail (printf "cache.redis.timeout %s is out of range: give 1ms to 5s" .) -}}
{{- end -}}
{{- end -}}
{{- $out := dict "secret" ($r.existingSecret | default (printf "%s-redis" (include "signet.fullname" .))) "password" $password -}}
{{- if $r.tls.caCert -}}
{{- $_ := set $out "caSecret" (printf "%s-trust" (include "signet.fullname" .)) -}}
{{- $_ := set $out "caKey" "redis-ca.crt" -}}
{{- else if $r.tls.caSecret -}}
{{- $_ := set $out "caSecret" $r.tls.caSecret -}}
{{- $_ := set $out "caKey" "ca.crt" -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}
{{- end -}}

{{/*
The HMAC key of the chart's Redis Secret: given in cache.redis.hmacKey, else the one generated at
the first install (kept in that Secret across upgrades, so every replica, old and new, shares
it), else generated now. Only redis.yaml includes it, once.
*/}}
{{- define "signet.redisHmacKey" -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (printf "%s-redis" (include "signet.fullname" .)) -}}
{{- include "signet.redisHmacKeyFrom" (dict "root" . "existing" $existing) -}}
{{- end -}}

{{/* signet.redisHmacKey given what `lookup` found (`existing`: the Redis Secret of an earlier
install, or empty), for the same reason as signet.tlsFrom. A key found shorter than Signet
accepts (edited by hand) is replaced. */}}
{{- define "signet.redisHmacKeyFrom" -}}
{{- $existing := .existing -}}
{{- with .root -}}
{{- $found := "" -}}
{{- if and $existing $existing.data (index $existing.data "hmacKey") -}}
{{- $found = index $existing.data "hmacKey" | b64dec -}}
{{- end -}}
{{- if .Values.cache.redis.hmacKey -}}
{{- .Values.cache.redis.hmacKey -}}
{{- else if ge (len (regexReplaceAll "\\s+$" $found "")) 32 -}}
{{- $found -}}
{{- else -}}
{{- randAlphaNum 64 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A rule's `match` (image rules, multiArch rules), checked for what Helm can tell: no tag or
digest (a rule is about a name), only the wildcards Signet knows. `at` is the rule's path.
*/}}
{{- define "signet.checkMatch" -}}
{{- $at := .at -}}
{{- $m := .match -}}
{{- if or (contains "@" $m) (and (contains "/" $m) (contains ":" (last (splitList "/" $m)))) }}
{{- fail (printf "%s.match %s names a tag or digest: a rule is about an image name (registry/repository) and so every tag and digest of it; write %s" $at (toJson $m) (toJson (regexReplaceAll "(@.*|:[^/]*)$" $m ""))) }}
{{- end }}
{{- if or (regexMatch "[\\s?\\[\\]{}]" $m) (contains "***" $m) }}
{{- fail (printf "%s.match %s: patterns know only * (within a path component) and ** (across components)" $at (toJson $m)) }}
{{- end }}
{{- end -}}

{{/*
policy.imageRules as Signet's configuration lists them, checked first for what Helm can tell at
install time, so that a mistake fails `helm install` with what to write instead of leaving a pod
that refuses its configuration: verifiers naming only the verifiers these values configure
(the chart names each after its type), verifiers only with verify and message only with deny,
unique names (a rule without one is written with Signet's default, imageRules[N]), no tag
or digest in a pattern, and no pattern twice. Signet's own checks (ambiguous rules, patterns no
normalized name matches) still run at start and in `signet config check`.
Arguments: rules, verifiers (the names rules may use), and for a namespace's rules path
(namespaces.NAME.policy.imageRules), namespace (its name: allow is refused there) and
clusterRules (policy.imageRules, which Signet applies in the namespace too).
*/}}
{{- define "signet.imageRules" -}}
{{- $path := .path | default "policy.imageRules" -}}
{{- $seen := dict -}}
{{- $patterns := dict -}}
{{- range $i, $r := .rules }}
{{- $at := printf "%s[%d]" $path $i }}
{{- $name := $r.name | default (printf "imageRules[%d]" $i) }}
{{- if hasKey $seen $name }}
{{- fail (printf "%s.name %s is used by another rule: rule names must be unique" $at (toJson $name)) }}
{{- end }}
{{- $_ := set $seen $name true }}
{{- $m := $r.match }}
{{- include "signet.checkMatch" (dict "at" $at "match" $m) }}
{{- with get $patterns $m }}
{{- fail (printf "%s.match %s is the pattern of %s too: Signet cannot choose between two rules for the same images; merge them into one" $at (toJson $m) .) }}
{{- end }}
{{- $_ := set $patterns $m $at }}
{{- range $j, $c := $.clusterRules }}
{{- if eq $c.match $m }}
{{- fail (printf "%s.match %s is the pattern of the cluster's policy.imageRules[%d] too: Signet applies the cluster's rules in the namespace as well, and refuses two equally specific rules for the same images; make this one more specific, or change the cluster's" $at (toJson $m) $j) }}
{{- end }}
{{- end }}
{{- if and $.namespace (eq $r.action "allow") }}
{{- fail (printf "%s has action allow: a namespace can only add requirements to the cluster's, and an allow rule would admit its images without the cluster's verification (Signet refuses it); use deny or verify here, or put the allow rule in policy.imageRules, the cluster's" $at) }}
{{- end }}
{{- if eq $r.action "verify" }}
{{- if not $r.verifiers }}
{{- fail (printf "%s has action verify but no verifiers: name the verifiers that judge these images (these values configure %s)" $at (join ", " $.verifiers)) }}
{{- end }}
{{- range $j, $v := $r.verifiers }}
{{- if not (has $v $.verifiers) }}
{{- if $.namespace }}
{{- fail (printf "%s.verifiers[%d] %s is not a verifier of this chart for namespace %s: the chart names its verifiers after their type (a namespace's own <type>-<namespace>), and these values configure %s" $at $j (toJson $v) $.namespace (join ", " $.verifiers)) }}
{{- end }}
{{- fail (printf "%s.verifiers[%d] %s is not a verifier of this chart: the chart names its verifiers after their type, and these values configure %s" $at $j (toJson $v) (join ", " $.verifiers)) }}
{{- end }}
{{- end }}
{{- else if hasKey $r "verifiers" }}
{{- fail (printf "%s.verifiers is only used with action verify (this rule's action is %s)" $at $r.action) }}
{{- end }}
{{- if and (hasKey $r "message") (ne $r.action "deny") }}
{{- fail (printf "%s.message is only used with action deny (this rule's action is %s)" $at $r.action) }}
{{- end }}
- name: {{ toJson $name }}
  match: {{ toJson $m }}
  action: {{ $r.action }}
  {{- with $r.verifiers }}
  verifiers: {{ toJson . }}
  {{- end }}
  {{- with $r.message }}
  message: {{ toJson . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
policy.multiArch as Signet's configuration lists it, checked as image rules are (unique names,
Signet's default multiArch[N] for a rule without one; no tag or digest; no pattern twice), and
platforms only where children are verified. Arguments: rules, path.
*/}}
{{- define "signet.multiArch" -}}
{{- $path := .path | default "policy.multiArch" -}}
{{- $seen := dict -}}
{{- $patterns := dict -}}
{{- range $i, $r := .rules }}
{{- $at := printf "%s[%d]" $path $i }}
{{- $name := $r.name | default (printf "multiArch[%d]" $i) }}
{{- if hasKey $seen $name }}
{{- fail (printf "%s.name %s is used by another rule: rule names must be unique" $at (toJson $name)) }}
{{- end }}
{{- $_ := set $seen $name true }}
{{- include "signet.checkMatch" (dict "at" $at "match" $r.match) }}
{{- with get $patterns $r.match }}
{{- fail (printf "%s.match %s is the pattern of %s too: Signet cannot choose between two rules for the same images; merge them into one" $at (toJson $r.match) .) }}
{{- end }}
{{- $_ := set $patterns $r.match $at }}
{{- if and (eq $r.require "index") (hasKey $r "platforms") }}
{{- fail (printf "%s.platforms is only used when children are verified: with require index the index's own signature decides; require children (every listed platform must be in the index and pass) or index-or-children" $at) }}
{{- end }}
- name: {{ toJson $name }}
  match: {{ toJson $r.match }}
  require: {{ $r.require }}
  {{- with $r.platforms }}
  platforms: {{ toJson . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
A notation trust policy document (notation's trustpolicy.json) as YAML, given as an object or
as text (--set-file); empty when not given. `at` is the value's path, for the message.
*/}}
{{- define "signet.policyDocument" -}}
{{- $doc := .doc -}}
{{- if kindIs "string" $doc -}}
{{- if $doc -}}
{{- $parsed := fromYaml $doc -}}
{{- if or (hasKey $parsed "Error") (not (hasKey $parsed "trustPolicies")) -}}
{{- fail (printf "%s is not a notation trust policy document (JSON or YAML with version and trustPolicies): %s" .at (get $parsed "Error" | default "no trustPolicies")) -}}
{{- end -}}
{{- $doc = $parsed -}}
{{- else -}}
{{- $doc = dict -}}
{{- end -}}
{{- end -}}
{{- with $doc -}}{{- toYaml . -}}{{- end -}}
{{- end -}}

{{/*
The trust material of namespaces' own verifiers, kept in the trust Secret beside the cluster's:
YAML {items: [{key, path, data}]}, `key` in the Secret (ns.NAME.…: a namespace name has no dot,
so keys of two namespaces never meet), `path` under /etc/signet/trust, `data` base64 (a PEM would
lose its last newline on the way through YAML).
*/}}
{{- define "signet.namespaceTrust" -}}
{{- $items := list -}}
{{- range $ns, $n := .Values.namespaces -}}
{{- $v := ($n | default dict).verifiers | default dict -}}
{{- with $v.notation -}}
{{- range $type, $named := .trustStores -}}
{{- range $name, $pem := $named -}}
{{- $items = append $items (dict "key" (printf "ns.%s.notation-%s-%s.crt" $ns $type $name) "path" (printf "namespaces/%s/notation/%s-%s.crt" $ns $type $name) "data" ($pem | b64enc)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- with $v.cosign -}}
{{- range $i, $k := .keys -}}
{{- $items = append $items (dict "key" (printf "ns.%s.cosign-key-%d.pub" $ns $i) "path" (printf "namespaces/%s/cosign/key-%d.pub" $ns $i) "data" ($k | b64enc)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "items" $items) -}}
{{- end -}}

{{/*
One namespace's section of Signet's `namespaces`: its own verifiers, named <type>-<namespace>
(trust material in the trust Secret, at namespaces/NAME/ under /etc/signet/trust), and its policy.
The policy starts from the chart's (default all, any for the signature types, the cluster's
multiArch rules) so that a namespace only adds: without its own `require`, the image needs a
signature and a passing report of each of the namespace's verifiers (vex aside), which is what
adding a verifier to a namespace means. Arguments: root, ns, n (the values), cluster (the
cluster's verifier names).
*/}}
{{- define "signet.namespace" -}}
{{- $root := .root -}}
{{- $ns := .ns -}}
{{- $n := .n | default dict -}}
{{- $cluster := .cluster -}}
{{- $at := printf "namespaces.%s" $ns -}}
{{- if not (regexMatch "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$" $ns) -}}
{{- fail (printf "%s: %s is not a namespace name (lower-case letters, digits and '-', at most 63, starting and ending with a letter or digit)" $at (toJson $ns)) -}}
{{- end -}}
{{- $v := $n.verifiers | default dict -}}
{{- $p := $n.policy | default dict -}}
{{- $trust := printf "/etc/signet/trust/namespaces/%s" $ns -}}
{{- $own := list -}}
{{- $required := list -}}
{{- $cosigns := list -}}
{{- if has "cosign" $cluster -}}{{- $cosigns = append $cosigns "cosign" -}}{{- end -}}
{{- $nsCosign := "" -}}
{{- if hasKey $v "cosign" -}}
{{- $nsCosign = printf "cosign-%s" $ns -}}
{{- $cosigns = append $cosigns $nsCosign -}}
{{- end -}}
{{- $attCosign := $nsCosign | default (ternary "cosign" "" (has "cosign" $cluster)) -}}
{{- /* The cosign verifier each attestation verifier uses: its `cosign`, else the namespace's own, else the cluster's. */ -}}
{{- $use := dict -}}
{{- range $type := list "sbom" "vulnerabilityreport" "provenance" -}}
{{- if hasKey $v $type -}}
{{- $a := get $v $type | default dict -}}
{{- $c := $a.cosign | default $attCosign -}}
{{- if and $a.cosign (not (has $a.cosign $cosigns)) -}}
{{- fail (printf "%s.verifiers.%s.cosign %s is not a cosign verifier of these values: give %s" $at $type (toJson $a.cosign) (join " or " ($cosigns | default (list "cosignKeys or cosign.keyless first")))) -}}
{{- end -}}
{{- if and (eq $type "provenance") (not $c) -}}
{{- fail (printf "%s.verifiers.provenance needs a cosign verifier: provenance attestations are DSSE statements checked with its trust (give %s.verifiers.cosign, or cosignKeys / cosign.keyless for the cluster)" $at $at) -}}
{{- end -}}
{{- $_ := set $use $type $c -}}
{{- end -}}
{{- end -}}
{{- range $type := list "notation" "cosign" "sbom" "vulnerabilityreport" -}}
{{- if hasKey $v $type -}}
{{- $own = append $own (printf "%s-%s" $type $ns) -}}
{{- $required = append $required (printf "%s-%s" $type $ns) -}}
{{- end -}}
{{- end -}}
{{- $vexCosign := get $use "vulnerabilityreport" | default "" -}}
{{- $vex := and $vexCosign (or (ne $vexCosign "cosign") (not (has "vex" $cluster))) -}}
{{- if $vex -}}{{- $own = append $own (printf "vex-%s" $ns) -}}{{- end -}}
{{- if hasKey $v "provenance" -}}
{{- $own = append $own (printf "provenance-%s" $ns) -}}
{{- $required = append $required (printf "provenance-%s" $ns) -}}
{{- end -}}
{{ toJson $ns }}:
  {{- if $own }}
  verifiers:
    {{- with $v.notation }}
    {{- $stores := .trustStores | default dict }}
    {{- $count := 0 }}
    {{- range $type, $named := $stores }}{{ $count = add $count (len $named) }}{{ end }}
    {{- if not $count }}
    {{- fail (printf "%s.verifiers.notation.trustStores holds no certificate: give one, e.g. --set-file %s.verifiers.notation.trustStores.ca.acme=acme-root.pem" $at $at) }}
    {{- end }}
    {{- $doc := include "signet.policyDocument" (dict "doc" .trustPolicyDocument "at" (printf "%s.verifiers.notation.trustPolicyDocument" $at)) | fromYaml }}
    {{- if not $doc }}
    {{- fail (printf "%s.verifiers.notation.trustPolicyDocument is empty: give notation's trust policy document (--set-file %s.verifiers.notation.trustPolicyDocument=trustpolicy.json), naming the stores as type:name" $at $at) }}
    {{- end }}
    - name: notation-{{ $ns }}
      type: notation
      artifactTypes: [application/vnd.cncf.notary.signature]
      trustStores:
        {{- range $type, $named := $stores }}
        {{- if $named }}
        {{ $type }}:
          {{- range $name, $_ := $named }}
          {{ toJson $name }}: [{{ printf "%s/notation/%s-%s.crt" $trust $type $name }}]
          {{- end }}
        {{- end }}
        {{- end }}
      trustPolicyDoc:
        {{- toYaml $doc | nindent 8 }}
    {{- end }}
    {{- if $nsCosign }}
    {{- $c := $v.cosign | default dict }}
    {{- $k := $c.keyless | default dict }}
    {{- $keyless := or $k.certificateIdentity $k.certificateIdentityRegExp }}
    {{- $tlog := ternary true $c.tLogVerify (not (hasKey $c "tLogVerify")) }}
    {{- if and $c.keys $k }}
    {{- fail (printf "%s.verifiers.cosign: give keys or keyless, not both: both would claim the same scopes (Signet picks one trust policy per repository)" $at) }}
    {{- end }}
    {{- if and $k (not $keyless) }}
    {{- fail (printf "%s.verifiers.cosign.keyless needs certificateIdentity or certificateIdentityRegExp: the signer's identity (the certificate's SAN)" $at) }}
    {{- end }}
    {{- if not (or $c.keys $keyless) }}
    {{- fail (printf "%s.verifiers.cosign needs keys (--set-file %s.verifiers.cosign.keys[0]=cosign.pub) or keyless (certificateIdentity and certificateOIDCIssuer)" $at $at) }}
    {{- end }}
    {{- if and (or $tlog $keyless) (not $root.Values.cosign.trustedRoot) }}
    {{- fail (printf "%s.verifiers.cosign: tLogVerify and keyless verification need a Sigstore trusted root, and a namespace's cosign verifier uses the cluster's: --set-file cosign.trustedRoot=trusted_root.json (Signet verifies offline), or set %s.verifiers.cosign.tLogVerify=false for keys signed without the transparency log" $at $at) }}
    {{- end }}
    - name: {{ $nsCosign }}
      type: cosign
      artifactTypes:
        - application/vnd.dev.cosign.artifact.sig.v1+json
        - application/vnd.dev.sigstore.bundle.v0.3+json
      {{- if $root.Values.cosign.trustedRoot }}
      trustedRootFile: /etc/signet/trust/cosign/trusted_root.json
      {{- end }}
      trustPolicies:
        {{- if $c.keys }}
        - name: keys
          scopes: {{ toJson ($c.scopes | default (list "*")) }}
          keys:
          {{- range $i, $_ := $c.keys }}
            - file: {{ $trust }}/cosign/key-{{ $i }}.pub
          {{- end }}
          tLogVerify: {{ $tlog }}
        {{- else }}
        - name: keyless
          scopes: {{ toJson ($c.scopes | default (list "*")) }}
          keyless:
            {{- if $k.certificateIdentity }}
            certificateIdentity: {{ $k.certificateIdentity | quote }}
            {{- else }}
            certificateIdentityRegExp: {{ $k.certificateIdentityRegExp | quote }}
            {{- end }}
            {{- if $k.certificateOIDCIssuer }}
            certificateOIDCIssuer: {{ $k.certificateOIDCIssuer | quote }}
            {{- else }}
            certificateOIDCIssuerRegExp: {{ $k.certificateOIDCIssuerRegExp | default ".*" | quote }}
            {{- end }}
          tLogVerify: {{ $tlog }}
          ctLogVerify: {{ ternary true $k.ctLogVerify (not (hasKey $k "ctLogVerify")) }}
        {{- end }}
    {{- end }}
    {{- if hasKey $v "sbom" }}
    {{- $s := $v.sbom | default dict }}
    - name: sbom-{{ $ns }}
      type: sbom
      {{- with get $use "sbom" }}
      cosign: {{ . }}
      {{- else }}
      artifactTypes: [application/spdx+json, application/vnd.cyclonedx+json]
      {{- end }}
      signatureRequired: {{ ternary true $s.notaryProjectSignatureRequired (not (hasKey $s "notaryProjectSignatureRequired")) }}
      {{- with $s.disallowedLicenses }}
      disallowedLicenses: {{ toJson . }}
      {{- end }}
      {{- with $s.disallowedPackages }}
      disallowedPackages: {{ toJson . }}
      {{- end }}
    {{- end }}
    {{- if hasKey $v "vulnerabilityreport" }}
    {{- $r := $v.vulnerabilityreport | default dict }}
    - name: vulnerabilityreport-{{ $ns }}
      type: vulnerabilityreport
      {{- with get $use "vulnerabilityreport" }}
      cosign: {{ . }}
      {{- else }}
      artifactTypes: [application/sarif+json, application/vnd.aquasec.trivy.report+json]
      {{- end }}
      signatureRequired: {{ ternary true $r.notaryProjectSignatureRequired (not (hasKey $r "notaryProjectSignatureRequired")) }}
      {{- with $r.maximumAge }}
      maximumAge: {{ . | quote }}
      {{- end }}
      {{- with $r.createdAnnotationName }}
      createdAnnotationName: {{ . | quote }}
      {{- end }}
      {{- with $r.disallowedSeverities }}
      disallowedSeverities: {{ toJson . }}
      {{- end }}
      {{- with $r.denylistCVEs }}
      denylistCVEs: {{ toJson . }}
      {{- end }}
    {{- if $vex }}
    - name: vex-{{ $ns }}
      type: vex
      cosign: {{ $vexCosign }}
    {{- end }}
    {{- end }}
    {{- if hasKey $v "provenance" }}
    - name: provenance-{{ $ns }}
      type: provenance
      cosign: {{ get $use "provenance" }}
      {{- range $key, $val := omit ($v.provenance | default dict) "cosign" }}
      {{- if $val }}
      {{ $key }}: {{ $val | quote }}
      {{- end }}
      {{- end }}
    {{- end }}
  {{- end }}
  policy:
    {{- if hasKey $p "require" }}
    require: {{ toJson $p.require }}
    {{- else if $required }}
    require: {{ toJson (prepend $required "signature") }}
    {{- end }}
    default: {{ $p.default | default "all" }}
    artifactTypes:
      {{- $types := dict "application/vnd.cncf.notary.signature" "any" "application/vnd.dev.cosign.artifact.sig.v1+json" "any" "application/vnd.dev.sigstore.bundle.v0.3+json" "any" }}
      {{- range $t, $rule := $p.artifactTypes }}{{ $_ := set $types $t $rule }}{{ end }}
      {{- range $t, $rule := $types }}
      {{ toJson $t }}: {{ $rule }}
      {{- end }}
    {{- with $p.predicateTypes }}
    predicateTypes:
      {{- range $t, $rule := . }}
      {{ toJson $t }}: {{ $rule }}
      {{- end }}
    {{- end }}
    {{- with $p.imageRules }}
    imageRules:
      {{- include "signet.imageRules" (dict "rules" . "verifiers" (concat $cluster $own) "path" (printf "%s.policy.imageRules" $at) "namespace" $ns "clusterRules" $root.Values.policy.imageRules) | trim | nindent 6 }}
    {{- end }}
    {{- with (hasKey $p "multiArch" | ternary $p.multiArch $root.Values.policy.multiArch) }}
    multiArch:
      {{- include "signet.multiArch" (dict "rules" . "path" (printf "%s.policy.multiArch" $at)) | trim | nindent 6 }}
    {{- end }}
{{- end -}}

{{/*
alerts.sinks as Signet's alerts.sinks, checked for what Helm can tell. Nothing secret is written
into the ConfigMap: a URL that holds a secret (user information, a query, Slack-compatible and
other webhook URLs whose path is the secret) must come from a Secret (urlSecret, mounted as
urlFile), and header values only come from Secrets (headerSecrets, mounted as headerFiles). Each
sink's files are under /etc/signet/alerts/NAME/ (see signet.alertSources). No message repeats a
URL.
*/}}
{{- define "signet.alerts" -}}
{{- $seen := dict -}}
{{- range $i, $s := .Values.alerts.sinks }}
{{- $at := printf "alerts.sinks[%d]" $i }}
{{- if hasKey $seen $s.name }}
{{- fail (printf "%s.name %s is used by another sink: sink names must be unique (they are the metrics' sink label)" $at (toJson $s.name)) }}
{{- end }}
{{- $_ := set $seen $s.name true }}
{{- $dir := printf "/etc/signet/alerts/%s" $s.name }}
{{- $format := $s.format | default "json" }}
{{- if and $s.url $s.urlSecret }}
{{- fail (printf "%s: give url or urlSecret (a Secret holding the URL), not both" $at) }}
{{- end }}
{{- if not (or $s.url $s.urlSecret) }}
{{- fail (printf "%s needs url (https://host/path), or urlSecret naming a Secret that holds the URL: --set %s.urlSecret.name=alert-webhook (key url)" $at $at) }}
{{- end }}
{{- with $s.url }}
{{- if not (regexMatch "^https?://" .) }}
{{- fail (printf "%s.url is not an http(s) URL (expected https://host/path, or http:// with plainHTTP: true)" $at) }}
{{- end }}
{{- if regexMatch "[\\s\\x00-\\x1f\\x7f]" . }}
{{- fail (printf "%s.url contains white space or control characters (percent-encode them)" $at) }}
{{- end }}
{{- if contains "@" . }}
{{- fail (printf "%s.url contains an @ (user information): the URL is in the ConfigMap, and credentials never go there; give them as a header in headerSecrets (e.g. Authorization), or the whole URL in urlSecret (percent-encode an @ in the path as %%40)" $at) }}
{{- end }}
{{- if contains "?" . }}
{{- fail (printf "%s.url has a query string, where webhooks often carry a token, and the URL is in the ConfigMap: give the URL in urlSecret (a Secret holding it)" $at) }}
{{- end }}
{{- if contains "#" . }}
{{- fail (printf "%s.url has a #fragment, which is never sent to the receiver; remove it" $at) }}
{{- end }}
{{- $host := regexReplaceAll "^https?://([^/:]*).*$" . "${1}" | lower }}
{{- if not $host }}
{{- fail (printf "%s.url names no host (expected https://host/path)" $at) }}
{{- end }}
{{- if or (eq $host "hooks.slack.com") (hasSuffix ".webhook.office.com" $host) (regexMatch "^https://([a-z]+\\.)?discord(app)?\\.com/api/webhooks/" (lower .)) }}
{{- fail (printf "%s.url is a Slack, Microsoft Teams or Discord webhook URL, which is a secret itself (whoever has it can post) and would be in the ConfigMap: give it in urlSecret (a Secret holding it)" $at) }}
{{- end }}
{{- if eq $format "slack" }}
{{- fail (printf "%s.url: a Slack-compatible incoming webhook URL (Slack, Mattermost, Rocket.Chat) holds its secret in the path, and the URL is in the ConfigMap: give it in urlSecret (a Secret holding it)" $at) }}
{{- end }}
{{- if and (hasPrefix "http://" .) (not $s.plainHTTP) }}
{{- fail (printf "%s.url is plain HTTP (http://%s): events would travel unencrypted; use https://, or set %s.plainHTTP=true (inside the cluster network only)" $at $host $at) }}
{{- end }}
{{- if and (hasPrefix "https://" .) $s.plainHTTP }}
{{- fail (printf "%s.plainHTTP is true but the url is https:// (choose one)" $at) }}
{{- end }}
{{- end }}
{{- if and $s.caCert $s.caSecret }}
{{- fail (printf "%s: give caCert (the CA's PEM) or caSecret (a Secret holding it), not both" $at) }}
{{- end }}
{{- if and $s.plainHTTP (or $s.caCert $s.caSecret) }}
{{- fail (printf "%s: caCert or caSecret is given but the sink is plainHTTP: a CA is only used for https" $at) }}
{{- end }}
{{- if $s.headers }}
{{- fail (printf "%s.headers: header values may be secrets (tokens, keys), and the ConfigMap is no place for them: give each header in headerSecrets, a Secret and key mounted as a file, e.g. --set %s.headerSecrets.Authorization.name=siem-token --set %s.headerSecrets.Authorization.key=token" $at $at $at) }}
{{- end }}
{{- $headers := dict }}
{{- range $h, $_ := $s.headerSecrets }}
{{- if not (regexMatch "^[A-Za-z0-9_-]+$" $h) }}
{{- fail (printf "%s.headerSecrets: %s is not a header name this chart takes (letters, digits, - and _)" $at (toJson $h)) }}
{{- end }}
{{- if has (lower $h) (list "content-type" "content-length" "host" "transfer-encoding" "connection") }}
{{- fail (printf "%s.headerSecrets.%s is set by Signet (the format decides the content type)" $at $h) }}
{{- end }}
{{- with get $headers (lower $h) }}
{{- fail (printf "%s.headerSecrets names %s and %s: header names are case-insensitive, give one" $at . $h) }}
{{- end }}
{{- $_ := set $headers (lower $h) $h }}
{{- end }}
{{- if and $s.source (ne $format "cloudevents") }}
{{- fail (printf "%s.source is only used with format cloudevents (this sink's format is %s)" $at $format) }}
{{- end }}
{{- with $s.template }}
{{- if ne $format "slack" }}
{{- fail (printf "%s.template is only used with format slack (this sink's format is %s)" $at $format) }}
{{- end }}
{{- $t := regexReplaceAll "\\{\\{|\\}\\}" . "" }}
{{- $known := list "event" "image" "digest" "subject" "namespace" "reason" "message" "traceId" "key" "time" }}
{{- range regexFindAll "\\{[^{}]*\\}" $t -1 }}
{{- if not (has (trimPrefix "{" (trimSuffix "}" .)) $known) }}
{{- fail (printf "%s.template: %s is not a placeholder (expected one of {%s}; write {{ and }} for literal braces)" $at . (join "}, {" $known)) }}
{{- end }}
{{- end }}
{{- if regexMatch "[{}]" (regexReplaceAll "\\{[^{}]*\\}" $t "") }}
{{- fail (printf "%s.template has a lone { or }: write {{ and }} for literal braces" $at) }}
{{- end }}
{{- end }}
{{- range $field, $range := dict "timeout" (list 10 60000 "10ms to 60s") "retryBackoff" (list 10 60000 "10ms to 60s") "dedupWindow" (list 0 86400000 "0s to 24h") }}
{{- with get $s $field }}
{{- $ms := include "signet.ms" . | atoi }}
{{- if or (lt $ms (index $range 0)) (gt $ms (index $range 1)) }}
{{- fail (printf "%s.%s %s is out of range: give %s" $at $field . (index $range 2)) }}
{{- end }}
{{- end }}
{{- end }}
- name: {{ toJson $s.name }}
  {{- if $s.url }}
  url: {{ toJson $s.url }}
  {{- else }}
  urlFile: {{ $dir }}/url
  {{- end }}
  {{- if $s.plainHTTP }}
  plainHTTP: true
  {{- end }}
  {{- if or $s.caCert $s.caSecret }}
  caFile: {{ $dir }}/ca.crt
  {{- end }}
  format: {{ $format }}
  {{- with $s.source }}
  source: {{ toJson . }}
  {{- end }}
  {{- with $s.template }}
  template: {{ toJson . }}
  {{- end }}
  {{- with $s.headerSecrets }}
  headerFiles:
    {{- range $h, $_ := . }}
    {{ toJson $h }}: {{ $dir }}/headers/{{ $h }}
    {{- end }}
  {{- end }}
  {{- with $s.events }}
  events: {{ toJson . }}
  {{- end }}
  {{- range $field := list "timeout" "retryBackoff" "dedupWindow" }}
  {{- with get $s $field }}
  {{ $field }}: {{ toJson . }}
  {{- end }}
  {{- end }}
  {{- range $field := list "maxRetries" "queueSize" }}
  {{- if hasKey $s $field }}
  {{ $field }}: {{ get $s $field }}
  {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/*
The Secrets' items the alerts read, as sources of one projected volume at /etc/signet/alerts:
YAML {sources: [...]}, each sink's files under its name (url, ca.crt, headers/NAME). A CA given
as PEM (caCert) is kept in the trust Secret (key alerts.NAME.ca.crt).
*/}}
{{- define "signet.alertSources" -}}
{{- $sources := list -}}
{{- $trust := printf "%s-trust" (include "signet.fullname" .) -}}
{{- range $s := .Values.alerts.sinks -}}
{{- with $s.urlSecret -}}
{{- $sources = append $sources (dict "secret" (dict "name" .name "items" (list (dict "key" (.key | default "url") "path" (printf "%s/url" $s.name))))) -}}
{{- end -}}
{{- if $s.caCert -}}
{{- $sources = append $sources (dict "secret" (dict "name" $trust "items" (list (dict "key" (printf "alerts.%s.ca.crt" $s.name) "path" (printf "%s/ca.crt" $s.name))))) -}}
{{- end -}}
{{- with $s.caSecret -}}
{{- $sources = append $sources (dict "secret" (dict "name" .name "items" (list (dict "key" (.key | default "ca.crt") "path" (printf "%s/ca.crt" $s.name))))) -}}
{{- end -}}
{{- range $h, $ref := $s.headerSecrets -}}
{{- $sources = append $sources (dict "secret" (dict "name" $ref.name "items" (list (dict "key" $ref.key "path" (printf "%s/headers/%s" $s.name $h))))) -}}
{{- end -}}
{{- end -}}
{{- toYaml (dict "sources" $sources) -}}
{{- end -}}

{{/* Signet's configuration file, from the values. */}}
{{- define "signet.config" -}}
{{- $deadline := sub (mul .Values.provider.timeout.validationTimeoutSeconds 1000) 500 -}}
{{- if lt $deadline 500 -}}{{- fail "provider.timeout.validationTimeoutSeconds must be at least 1" -}}{{- end -}}
{{- $mutateDeadline := sub (mul .Values.provider.timeout.mutationTimeoutSeconds 1000) 200 -}}
{{- if lt $mutateDeadline 800 -}}{{- fail "provider.timeout.mutationTimeoutSeconds must be at least 1" -}}{{- end -}}
server:
  listen: 0.0.0.0:6001
  tls:
    certFile: /etc/signet/tls/tls.crt
    keyFile: /etc/signet/tls/tls.key
    {{- if .Values.gatekeeper.mtls }}
    clientCAFile: /etc/signet/gatekeeper-ca/ca.crt
    {{- end }}
  healthListen: 0.0.0.0:9099
  metricsListen: 0.0.0.0:8888
  requestDeadline: {{ $deadline }}ms
  mutateDeadline: {{ $mutateDeadline }}ms
{{- $hosts := dict -}}
{{- range $host, $h := .Values.registryHosts }}
{{- $_ := set $hosts $host (dict "plainHTTP" $h.plainHTTP) -}}
{{- end }}
{{- range $i, $c := .Values.registryCredentials }}
{{- range $c.hosts }}
{{- $entry := get $hosts . | default dict -}}
{{- $_ := set $entry "dockerConfig" (printf "/etc/signet/registry/%d/.dockerconfigjson" $i) -}}
{{- $_ := set $hosts . $entry -}}
{{- end }}
{{- end }}
{{- if and .Values.registryCredsSecret .Values.dockerConfig }}
{{- fail "give registryCredsSecret (an existing Secret) or dockerConfig (its content), not both" }}
{{- end }}
{{- $default := or .Values.registryCredsSecret .Values.dockerConfig }}
{{- if or $hosts $default }}
registry:
  {{- if $default }}
  default:
    dockerConfig: /etc/signet/registry/default/.dockerconfigjson
  {{- end }}
  {{- if $hosts }}
  hosts:
    {{- toYaml $hosts | nindent 4 }}
  {{- end }}
{{- end }}
{{- $rc := .Values.provider.cache }}
{{- if and $rc.type (ne $rc.type "ristretto") }}
{{- fail (printf "provider.cache.type %s: Ratify's cache through a dapr state store cannot be mapped automatically, as Signet talks to Redis itself: remove provider.cache.type and set cache.redis.enabled=true and cache.redis.url=redis://host:6379/0 (docs/install.md, \"Sharing verdicts across replicas\")" $rc.type) }}
{{- end }}
{{- if $rc.name }}
{{- fail "provider.cache.name names a dapr state store: Signet does not use dapr; remove it (cache.redis shares verdicts through Redis directly)" }}
{{- end }}
{{- $ttl := include "signet.cacheTTL" . }}
{{- with .Values.cache.negativeTTL }}
{{- if gt (include "signet.ms" . | atoi) (include "signet.ms" $ttl | atoi) }}
{{- fail (printf "cache.negativeTTL %s is longer than the cache's ttl %s: a failed verdict would outlive a passing one" . $ttl) }}
{{- end }}
{{- end }}
{{- $redis := include "signet.redis" . | fromYaml }}
{{- $r := .Values.cache.redis }}
cache:
  ttl: {{ $ttl | quote }}
  {{- if $rc.cacheSizeMb }}
  maxEntries: {{ mul $rc.cacheSizeMb 170 }}
  {{- else }}
  maxEntries: {{ .Values.cache.maxEntries }}
  {{- end }}
  tagTTL: {{ .Values.cache.tagTTL | quote }}
  {{- with .Values.cache.negativeTTL }}
  negativeTTL: {{ . | quote }}
  {{- end }}
  {{- if $redis }}
  redis:
    url: {{ $r.url | quote }}
    {{- with $r.username }}
    username: {{ . | quote }}
    {{- end }}
    {{- if $redis.password }}
    passwordFile: /etc/signet/redis/password
    {{- end }}
    {{- if $redis.caSecret }}
    caFile: /etc/signet/redis/ca.crt
    {{- end }}
    hmacKeyFile: /etc/signet/redis/hmac-key
    keyPrefix: {{ $r.keyPrefix | quote }}
    {{- with $r.ttl }}
    ttl: {{ . | quote }}
    {{- end }}
    {{- with $r.negativeTTL }}
    negativeTTL: {{ . | quote }}
    {{- end }}
    {{- with $r.timeout }}
    timeout: {{ . | quote }}
    {{- end }}
  {{- end }}
verifiers:
{{- $verifierNames := list }}
{{- $n := .Values.notation }}
{{- $doc := include "signet.notationPolicyDocument" . | fromYaml }}
{{- $stores := include "signet.notationStores" . | fromYaml }}
{{- $notation := and $n.enabled (gt (len $stores) 0) }}
{{- if and $n.enabled (not $notation) (or $n.trustPolicies $doc) }}
{{- fail "notation trust policies are given but no certificate: --set-file notationCerts[0]=cert.crt, or notation.trustStores" }}
{{- end }}
{{- if $notation }}
{{- $verifierNames = append $verifierNames "notation" }}
  - name: notation
    type: notation
    artifactTypes: [application/vnd.cncf.notary.signature]
    trustStores:
      {{- range $type, $named := $stores }}
      {{ $type }}:
        {{- range $name, $path := $named }}
        {{ $name }}: [{{ $path }}]
        {{- end }}
      {{- end }}
    trustPolicyDoc:
      {{- if $doc }}
      {{- toYaml $doc | nindent 6 }}
      {{- else }}
      version: "1.0"
      trustPolicies:
      {{- range $i, $p := $n.trustPolicies | default (list (dict "name" "default" "registryScopes" (list "*"))) }}
        - name: {{ $p.name | default (printf "trustPolicy-%d" $i) | quote }}
          registryScopes: {{ toJson $p.registryScopes }}
          signatureVerification:
            level: {{ include "signet.notationLevel" (list $i $p) | quote }}
          trustStores:
          {{- range $p.trustStores }}
          {{- $ref := include "signet.storeName" . }}
          {{- $parts := splitList ":" $ref }}
          {{- if not (hasKey (get $stores (first $parts) | default dict) (last $parts)) }}
          {{- fail (printf "notation.trustPolicies[%d].trustStores names %s, which is not configured: notationCerts has %d certificate(s), notation.trustStores names %s" $i . (len $.Values.notationCerts) (toJson $n.trustStores)) }}
          {{- end }}
            - {{ $ref | quote }}
          {{- else }}
          {{- range $name, $_ := get $stores "ca" }}
            - {{ printf "ca:%s" $name | quote }}
          {{- end }}
          {{- end }}
          trustedIdentities: {{ toJson ($p.trustedIdentities | default (list "*")) }}
      {{- end }}
      {{- end }}
{{- end }}
{{- $k := .Values.cosign.keyless }}
{{- $keyless := or $k.certificateIdentity $k.certificateIdentityRegExp }}
{{- $cosign := and .Values.cosign.enabled (or (gt (len .Values.cosignKeys) 0) $keyless) }}
{{- if and $keyless (gt (len .Values.cosignKeys) 0) }}
{{- fail "give cosignKeys or cosign.keyless, not both: both would claim the same cosign.scopes (Signet picks one trust policy per repository)" }}
{{- end }}
{{- if .Values.cosign.key }}
{{- fail "cosign.key is Ratify's deprecated single key: give it as --set-file cosignKeys[0]=cosign.pub" }}
{{- end }}
{{- if .Values.cosign.rekorURL }}
{{- fail "cosign.rekorURL: Signet verifies transparency log entries offline, against the keys in cosign.trustedRoot, and never calls Rekor; remove it and give --set-file cosign.trustedRoot=trusted_root.json" }}
{{- end }}
{{- if $cosign }}
{{- $verifierNames = append $verifierNames "cosign" }}
{{- if and (or .Values.cosign.tLogVerify $keyless) (not .Values.cosign.trustedRoot) }}
{{- fail "cosign.tLogVerify and keyless verification need a Sigstore trusted root: --set-file cosign.trustedRoot=trusted_root.json (Signet verifies offline), or set cosign.tLogVerify=false for keys signed without the transparency log" }}
{{- end }}
  - name: cosign
    type: cosign
    artifactTypes:
      - application/vnd.dev.cosign.artifact.sig.v1+json
      - application/vnd.dev.sigstore.bundle.v0.3+json
    {{- if .Values.cosign.trustedRoot }}
    trustedRootFile: /etc/signet/trust/cosign/trusted_root.json
    {{- end }}
    trustPolicies:
    {{- if gt (len .Values.cosignKeys) 0 }}
      - name: keys
        scopes: {{ toJson .Values.cosign.scopes }}
        keys:
        {{- range $i, $_ := .Values.cosignKeys }}
          - file: /etc/signet/trust/cosign/key-{{ $i }}.pub
        {{- end }}
        tLogVerify: {{ .Values.cosign.tLogVerify }}
    {{- end }}
    {{- if $keyless }}
      - name: keyless
        scopes: {{ toJson .Values.cosign.scopes }}
        keyless:
          {{- if $k.certificateIdentity }}
          certificateIdentity: {{ $k.certificateIdentity | quote }}
          {{- else }}
          certificateIdentityRegExp: {{ $k.certificateIdentityRegExp | quote }}
          {{- end }}
          {{- if $k.certificateOIDCIssuer }}
          certificateOIDCIssuer: {{ $k.certificateOIDCIssuer | quote }}
          {{- else }}
          certificateOIDCIssuerRegExp: {{ $k.certificateOIDCIssuerRegExp | default ".*" | quote }}
          {{- end }}
        tLogVerify: {{ .Values.cosign.tLogVerify }}
        ctLogVerify: {{ $k.ctLogVerify }}
    {{- end }}
{{- end }}
{{- if .Values.sbom.enabled }}
{{- $verifierNames = append $verifierNames "sbom" }}
  - name: sbom
    type: sbom
    {{- if $cosign }}
    cosign: cosign
    {{- else }}
    artifactTypes: [application/spdx+json, application/vnd.cyclonedx+json]
    {{- end }}
    signatureRequired: {{ .Values.sbom.notaryProjectSignatureRequired }}
    {{- with .Values.sbom.disallowedLicenses }}
    disallowedLicenses: {{ toJson . }}
    {{- end }}
    {{- with .Values.sbom.disallowedPackages }}
    disallowedPackages: {{ toJson . }}
    {{- end }}
{{- end }}
{{- if .Values.vulnerabilityreport.passthrough }}
{{- fail "vulnerabilityreport.passthrough: Signet has no passthrough mode; every report's content is in the answer as facts for Rego (docs/result-format.md), and the verifier's own rules can be left empty" }}
{{- end }}
{{- if .Values.vulnerabilityreport.schemaURL }}
{{- fail "vulnerabilityreport.schemaURL: Signet checks SARIF's structure itself and never fetches a schema; remove it" }}
{{- end }}
{{- if .Values.vulnerabilityreport.enabled }}
{{- $verifierNames = append $verifierNames "vulnerabilityreport" }}
  - name: vulnerabilityreport
    type: vulnerabilityreport
    {{- if $cosign }}
    cosign: cosign
    {{- else }}
    artifactTypes: [application/sarif+json, application/vnd.aquasec.trivy.report+json]
    {{- end }}
    signatureRequired: {{ .Values.vulnerabilityreport.notaryProjectSignatureRequired }}
    {{- with .Values.vulnerabilityreport.maximumAge }}
    maximumAge: {{ . | quote }}
    {{- end }}
    {{- with .Values.vulnerabilityreport.createdAnnotationName }}
    createdAnnotationName: {{ . | quote }}
    {{- end }}
    {{- with .Values.vulnerabilityreport.disallowedSeverities }}
    disallowedSeverities: {{ toJson . }}
    {{- end }}
    {{- with .Values.vulnerabilityreport.denylistCVEs }}
    denylistCVEs: {{ toJson . }}
    {{- end }}
  {{- if $cosign }}
  {{- $verifierNames = append $verifierNames "vex" }}
  - name: vex
    type: vex
    cosign: cosign
  {{- end }}
{{- end }}
{{- if .Values.provenance.enabled }}
{{- if not $cosign }}
{{- fail "provenance.enabled needs the cosign verifier (cosignKeys or cosign.keyless): provenance attestations are DSSE statements checked with its trust" }}
{{- end }}
{{- $verifierNames = append $verifierNames "provenance" }}
  - name: provenance
    type: provenance
    cosign: cosign
    {{- range $k, $v := omit .Values.provenance "enabled" }}
    {{- if $v }}
    {{ $k }}: {{ $v | quote }}
    {{- end }}
    {{- end }}
{{- end }}
{{- if not (or $notation $cosign) }}
{{- fail "no verifier is configured: give notationCerts (with notation.trustPolicies), notation.trustStores, or cosignKeys / cosign.keyless; Signet never passes an image it could not verify" }}
{{- end }}
policy:
  {{- with .Values.require }}
  require: {{ toJson . }}
  {{- end }}
  default: all
  artifactTypes:
    application/vnd.cncf.notary.signature: any
    application/vnd.dev.cosign.artifact.sig.v1+json: any
    application/vnd.dev.sigstore.bundle.v0.3+json: any
  {{- with .Values.policy.imageRules }}
  imageRules:
    {{- include "signet.imageRules" (dict "rules" . "verifiers" $verifierNames) | trim | nindent 4 }}
  {{- end }}
  {{- with .Values.policy.multiArch }}
  multiArch:
    {{- include "signet.multiArch" (dict "rules" .) | trim | nindent 4 }}
  {{- end }}
{{- with .Values.namespaces }}
namespaces:
  {{- range $ns, $n := . }}
  {{- include "signet.namespace" (dict "root" $ "ns" $ns "n" $n "cluster" $verifierNames) | nindent 2 }}
  {{- end }}
{{- end }}
{{- with .Values.alerts.sinks }}
alerts:
  sinks:
    {{- include "signet.alerts" $ | trim | nindent 4 }}
{{- end }}
{{- end -}}
