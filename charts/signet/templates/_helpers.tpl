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
{{- $doc := .Values.notation.trustPolicyDocument -}}
{{- if kindIs "string" $doc -}}
{{- if $doc -}}
{{- $parsed := fromYaml $doc -}}
{{- if or (hasKey $parsed "Error") (not (hasKey $parsed "trustPolicies")) -}}
{{- fail (printf "notation.trustPolicyDocument is not a notation trust policy document (JSON or YAML with version and trustPolicies): %s" (get $parsed "Error" | default "no trustPolicies")) -}}
{{- end -}}
{{- $doc = $parsed -}}
{{- else -}}
{{- $doc = dict -}}
{{- end -}}
{{- end -}}
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
{{- fail (printf "provider.cache.type %s: Signet keeps verdicts in memory (Ratify's ristretto); a shared cache is not available yet" $rc.type) }}
{{- end }}
{{- if $rc.name }}
{{- fail "provider.cache.name names a dapr state store: Signet does not use dapr; remove it" }}
{{- end }}
cache:
  {{- if eq (toString $rc.enabled) "false" }}
  ttl: 0s
  {{- else }}
  ttl: {{ $rc.ttl | default .Values.cache.ttl | quote }}
  {{- end }}
  {{- if $rc.cacheSizeMb }}
  maxEntries: {{ mul $rc.cacheSizeMb 170 }}
  {{- else }}
  maxEntries: {{ .Values.cache.maxEntries }}
  {{- end }}
  tagTTL: {{ .Values.cache.tagTTL | quote }}
verifiers:
{{- $n := .Values.notation }}
{{- $doc := include "signet.notationPolicyDocument" . | fromYaml }}
{{- $stores := include "signet.notationStores" . | fromYaml }}
{{- $notation := and $n.enabled (gt (len $stores) 0) }}
{{- if and $n.enabled (not $notation) (or $n.trustPolicies $doc) }}
{{- fail "notation trust policies are given but no certificate: --set-file notationCerts[0]=cert.crt, or notation.trustStores" }}
{{- end }}
{{- if $notation }}
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
  - name: vex
    type: vex
    cosign: cosign
  {{- end }}
{{- end }}
{{- if .Values.provenance.enabled }}
{{- if not $cosign }}
{{- fail "provenance.enabled needs the cosign verifier (cosignKeys or cosign.keyless): provenance attestations are DSSE statements checked with its trust" }}
{{- end }}
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
{{- end -}}
