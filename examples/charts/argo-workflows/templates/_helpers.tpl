{{- define "argo-workflows.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Labels of one component: include "argo-workflows.labels" (dict "context" . "component" "server" "name" "server") */}}
{{- define "argo-workflows.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .context.Chart.Name .context.Chart.Version }}
app.kubernetes.io/name: {{ include "argo-workflows.fullname" .context }}-{{ .name }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
app: {{ .component }}
app.kubernetes.io/part-of: argo-workflows
app.kubernetes.io/managed-by: {{ .context.Release.Service }}
{{- end }}

{{- define "argo-workflows.server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "argo-workflows.fullname" . }}-server
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
