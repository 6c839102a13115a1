{{/* The chart name, or nameOverride. */}}
{{- define "regcred-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name of every resource: fullnameOverride, or RELEASE-NAME (RELEASE when it contains the name). */}}
{{- define "regcred-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "regcred-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels: stable over upgrades. */}}
{{- define "regcred-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "regcred-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "regcred-operator.labels" -}}
helm.sh/chart: {{ include "regcred-operator.chart" . }}
{{ include "regcred-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: regcred-operator
{{- end }}

{{- define "regcred-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "regcred-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, repository@digest, or repository:tag@digest. */}}
{{- define "regcred-operator.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end }}

{{/*
A Kubernetes memory quantity in MiB (float). Accepts plain bytes and the suffixes Ki Mi Gi Ti k M G T.
*/}}
{{- define "regcred-operator.quantityMiB" -}}
{{- $q := toString . -}}
{{- $num := regexFind "^[0-9]+(\\.[0-9]+)?" $q -}}
{{- if not $num -}}
{{- fail (printf "cannot read the memory quantity %q" $q) -}}
{{- end -}}
{{- $unit := trimPrefix $num $q -}}
{{- $factors := dict "" 0.00000095367431640625 "Ki" 0.0009765625 "Mi" 1.0 "Gi" 1024.0 "Ti" 1048576.0 "k" 0.0009536743164062 "M" 0.95367431640625 "G" 953.67431640625 "T" 953674.31640625 -}}
{{- if not (hasKey $factors $unit) -}}
{{- fail (printf "cannot read the memory quantity %q: unknown suffix %q" $q $unit) -}}
{{- end -}}
{{- mulf (float64 $num) (get $factors $unit) -}}
{{- end }}

{{/*
The V8 heap cap in MiB for NODE_OPTIONS --max-old-space-size, or "" for none. config/manager/deployment.yaml:
Node sizes its heap from the container's memory limit and collects lazily until the heap alone fills it,
while ~190 MiB of RSS sits outside the heap, which ends in an OOM kill; a cap below the limit makes V8
collect instead: the memory limit minus 192 MiB (512Mi -> 320, the value config/ sets).
*/}}
{{- define "regcred-operator.heapSizeMiB" -}}
{{- if .Values.heapSizeMiB -}}
{{- int .Values.heapSizeMiB -}}
{{- else -}}
{{- $limit := dig "limits" "memory" "" (.Values.resources | default dict) -}}
{{- if $limit -}}
{{- $heap := int (floor (subf (include "regcred-operator.quantityMiB" $limit | float64) 192)) -}}
{{- if lt $heap 64 -}}
{{- fail (printf "resources.limits.memory %s leaves %d MiB of heap after the 192 MiB the operator needs outside it; give it at least 256Mi (or set heapSizeMiB)" (toString $limit) $heap) -}}
{{- end -}}
{{- $heap -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* The registry CA bundle's mount path. */}}
{{- define "regcred-operator.caDir" -}}/etc/regcred/registry-ca{{- end }}

{{/* Checks that hold across values; rendered from the Deployment. */}}
{{- define "regcred-operator.validate" -}}
{{- if and (gt (int .Values.replicas) 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicas > 1 needs leaderElection.enabled: two operators without a Lease would both write every Secret" -}}
{{- end -}}
{{- if .Values.leaderElection.enabled -}}
{{- if ge (int .Values.leaderElection.renewDeadlineSeconds) (int .Values.leaderElection.leaseDurationSeconds) -}}
{{- fail "leaderElection.renewDeadlineSeconds must be less than leaderElection.leaseDurationSeconds" -}}
{{- end -}}
{{- if ge (int .Values.leaderElection.retryPeriodSeconds) (int .Values.leaderElection.renewDeadlineSeconds) -}}
{{- fail "leaderElection.retryPeriodSeconds must be less than leaderElection.renewDeadlineSeconds" -}}
{{- end -}}
{{- end -}}
{{- end }}
