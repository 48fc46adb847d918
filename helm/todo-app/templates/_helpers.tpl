{{/* Chart name, shortened to fit the 63-character label limit. */}}
{{- define "todo-app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Prefix of every object name: the release name unless it already says todo-app. */}}
{{- define "todo-app.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else if contains (include "todo-app.name" .) .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "todo-app.name" .) | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one component's objects, e.g. todo-app-backend. Call with (dict "root" $ "component" "backend"). */}}
{{- define "todo-app.componentName" -}}
{{- printf "%s-%s" (include "todo-app.fullname" .root) .component -}}
{{- end -}}

{{/* Selector labels: name, instance and (when given) component; they never change, so selectors stay valid across upgrades. */}}
{{- define "todo-app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo-app.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* Standard labels on every object; part-of and instance are what `invoke clean` selects on. */}}
{{- define "todo-app.labels" -}}
{{ include "todo-app.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: {{ .root.Chart.Name }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end -}}

{{/* Name of the Secret with the .env.example keys. */}}
{{- define "todo-app.secretName" -}}
{{- .Values.existingSecret -}}
{{- end -}}

{{/* Name of the ServiceAccount the pods run as. */}}
{{- define "todo-app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "todo-app.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The image reference of an app component; the schema already rejected a missing or latest tag. */}}
{{- define "todo-app.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/* Pod-level security for Pod Security "restricted". Call with the UID/GID the image runs as. */}}
{{- define "todo-app.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security for Pod Security "restricted"; writable paths come from emptyDir volumes. */}}
{{- define "todo-app.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Zero-downtime updates: the old pods serve until the new ones are ready. Every new pod starts at
once, so a rollout takes one pod start, not one per replica (it holds twice the pods' requests meanwhile). */}}
{{- define "todo-app.rollingUpdate" -}}
type: RollingUpdate
rollingUpdate:
  maxUnavailable: 0
  maxSurge: 100%
{{- end -}}

{{/* A ConfigMap key as an env var. Call with (dict "root" $ "key" "LOG_LEVEL"). */}}
{{- define "todo-app.configEnv" -}}
- name: {{ .key }}
  valueFrom:
    configMapKeyRef:
      name: {{ include "todo-app.fullname" .root }}
      key: {{ .key }}
{{- end -}}

{{/* A Secret key as an env var. Call with (dict "root" $ "key" "JWT_SECRET" "optional" false). */}}
{{- define "todo-app.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ include "todo-app.secretName" .root }}
      key: {{ .key }}
      optional: {{ .optional }}
{{- end -}}

{{/* A NetworkPolicy admitting traffic to one component's port, only from the "from" component when given.
Call with (dict "root" $ "component" "backend" "port" "http" "from" "frontend"). */}}
{{- define "todo-app.networkPolicy" -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "todo-app.componentName" . }}
  labels:
    {{- include "todo-app.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "todo-app.selectorLabels" . | nindent 6 }}
  policyTypes: ["Ingress"]
  ingress:
    - ports:
        - port: {{ .port }}
          protocol: TCP
      {{- with .from }}
      from:
        - podSelector:
            matchLabels:
              {{- include "todo-app.selectorLabels" (dict "root" $.root "component" .) | nindent 14 }}
      {{- end }}
{{- end -}}

{{/* Prefer spreading a component's pods over nodes, so one node going down keeps a replica; on a one-node cluster it still schedules. */}}
{{- define "todo-app.spreadOverNodes" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "todo-app.selectorLabels" . | nindent 12 }}
{{- end -}}
