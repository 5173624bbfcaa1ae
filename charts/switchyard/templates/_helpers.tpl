{{/*
Names, labels and the pieces several templates share. Every value from values.yaml reaches a manifest through
quote, toYaml or toJson (or int for numbers the schema checked): no user string is written unescaped.
*/}}

{{/* The chart name (nameOverride), at most 63 characters. */}}
{{- define "switchyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The full name of the release's objects: fullnameOverride, else RELEASE-CHART (RELEASE when it holds the chart name). */}}
{{- define "switchyard.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of cluster-scoped objects: unique per release namespace too. */}}
{{- define "switchyard.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "switchyard.fullname" .) -}}
{{- end -}}

{{- define "switchyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The selector labels: they never change over the release's life. */}}
{{- define "switchyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchyard.name" . | quote }}
app.kubernetes.io/instance: {{ .Release.Name | quote }}
{{- end -}}

{{/* The standard labels of every object. */}}
{{- define "switchyard.labels" -}}
helm.sh/chart: {{ include "switchyard.chart" . | quote }}
{{ include "switchyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: control-plane
app.kubernetes.io/part-of: switchyard
app.kubernetes.io/managed-by: {{ .Release.Service | quote }}
{{- end -}}

{{- define "switchyard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "switchyard.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: required when serviceAccount.create is false (the existing ServiceAccount serve runs as)" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespaces serve migrates apps to, as a JSON list (rbac.namespaces, else the release's). */}}
{{- define "switchyard.targetNamespaces" -}}
{{- if .Values.rbac.namespaces -}}
{{- toJson (uniq .Values.rbac.namespaces) -}}
{{- else -}}
{{- toJson (list .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{- define "switchyard.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Where the container finds its files. */}}
{{- define "switchyard.configPath" -}}/etc/switchyard/config/{{ .Values.config.key }}{{- end -}}
{{- define "switchyard.tokensPath" -}}/etc/switchyard/tokens/{{ .Values.tokens.key }}{{- end -}}
{{- define "switchyard.tlsDir" -}}/etc/switchyard/tls{{- end -}}
{{- define "switchyard.etcdDir" -}}/etc/switchyard/etcd{{- end -}}

{{/* The Secret holding the config file: the user's, or the chart's. */}}
{{- define "switchyard.configSecret" -}}
{{- default (printf "%s-config" (include "switchyard.fullname" .)) .Values.config.existingSecret -}}
{{- end -}}

{{/* The Secret holding the tokens file ("" when there is none). */}}
{{- define "switchyard.tokensSecret" -}}
{{- if .Values.tokens.existingSecret -}}
{{- .Values.tokens.existingSecret -}}
{{- else if .Values.tokens.entries -}}
{{- printf "%s-tokens" (include "switchyard.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The context serve runs (--context; "" = the file's currentContext). */}}
{{- define "switchyard.contextName" -}}
{{- if .Values.serve.context -}}
{{- .Values.serve.context -}}
{{- else if not .Values.config.existingSecret -}}
{{- .Values.config.context.name -}}
{{- end -}}
{{- end -}}

{{/*
The config file the chart writes from config.context (docs/contexts.md): one context, current. The namespace
defaults to the first target namespace; the etcd journal's files to those of etcd.clientSecret. More than one
replica needs the etcd journal: a bbolt file is held by one process, and the replicas would not elect a leader.
*/}}
{{- define "switchyard.configFile" -}}
{{- $ctx := deepCopy .Values.config.context -}}
{{- $name := required "config.context.name: required (or give config.existingSecret)" $ctx.name -}}
{{- $kube := default (dict) $ctx.kubernetes -}}
{{- if not $kube.namespace -}}
{{- $_ := set $kube "namespace" (first (include "switchyard.targetNamespaces" . | fromJsonArray)) -}}
{{- end -}}
{{- $_ := set $ctx "kubernetes" $kube -}}
{{- $journal := default (dict) $ctx.journal -}}
{{- if eq (default "bbolt" $journal.type) "etcd" -}}
{{- if .Values.etcd.clientSecret -}}
{{- $dir := include "switchyard.etcdDir" . -}}
{{- $_ := set $journal "caFile" (default (printf "%s/ca.crt" $dir) $journal.caFile) -}}
{{- $_ := set $journal "certFile" (default (printf "%s/tls.crt" $dir) $journal.certFile) -}}
{{- $_ := set $journal "keyFile" (default (printf "%s/tls.key" $dir) $journal.keyFile) -}}
{{- end -}}
{{- else if gt (int .Values.replicaCount) 1 -}}
{{- fail (printf "replicaCount %d needs config.context.journal.type etcd: the replicas elect their leader in etcd (a bbolt journal is one process's)" (int .Values.replicaCount)) -}}
{{- end -}}
{{- if $journal -}}
{{- $_ := set $ctx "journal" $journal -}}
{{- end -}}
{{- $file := dict "apiVersion" "switchyard.io/v1" "kind" "Config" "currentContext" $name "contexts" (list $ctx) -}}
{{- toYaml $file -}}
{{- end -}}

{{/* The tokens file the chart writes from tokens.entries (hashes only). */}}
{{- define "switchyard.tokensFile" -}}
{{- $out := list -}}
{{- range .Values.tokens.entries -}}
{{- $out = append $out (dict "name" .name "role" .role "sha256" (lower .sha256)) -}}
{{- end -}}
{{- toYaml (dict "tokens" $out) -}}
{{- end -}}
