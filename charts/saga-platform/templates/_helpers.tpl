{{/*
Names, labels and the pieces every workload shares. Templates are grouped by app
(orchestrator/, inventory/, payment/, shipping/, operator/, dapr/, tests/); what the three
command services have in common is rendered here once, from their own values.
*/}}

{{- define "saga-platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name alone when it already holds the chart name. */}}
{{- define "saga-platform.fullname" -}}
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

{{- define "saga-platform.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object name of one component: (dict "root" $ "component" "orchestrator"). Leaves room
for the 10-character suffix of a Deployment's pods within 63 characters. */}}
{{- define "saga-platform.componentName" -}}
{{- printf "%s-%s" (include "saga-platform.fullname" .root | trunc 40 | trimSuffix "-") .component -}}
{{- end -}}

{{/* Selector labels of one component: never change them (Deployment selectors are immutable). */}}
{{- define "saga-platform.selectorLabels" -}}
app.kubernetes.io/name: {{ include "saga-platform.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every label of one component's objects. */}}
{{- define "saga-platform.labels" -}}
{{ include "saga-platform.selectorLabels" . }}
helm.sh/chart: {{ include "saga-platform.chart" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: saga-platform
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of the release's objects that belong to no single component (Dapr resources). */}}
{{- define "saga-platform.releaseLabels" -}}
{{ include "saga-platform.labels" (dict "root" . "component" "dapr") }}
{{- end -}}

{{/* metadata.namespace of every namespaced object: explicit, so `helm template | kubectl
apply` lands where the release is, never in whatever namespace is current. */}}
{{- define "saga-platform.namespace" -}}
{{ .Release.Namespace }}
{{- end -}}

{{/* An image reference from {repository, tag, digest}: (dict "root" $ "image" .Values.x.image).
The tag defaults to the chart's appVersion; a trailing "@" is dropped, because skaffold's
"{{.IMAGE_TAG_x}}@{{.IMAGE_DIGEST_x}}" has no digest for images it loads into kind. */}}
{{- define "saga-platform.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion | toString | trimSuffix "@" -}}
{{- $ref := printf "%s:%s" .image.repository $tag -}}
{{- if .image.digest -}}
{{- $ref = printf "%s@%s" $ref .image.digest -}}
{{- end -}}
{{- $ref -}}
{{- end -}}

{{/* The Dapr app ids, fixed by services/contracts/names.py and dapr.yaml. */}}
{{- define "saga-platform.appIds" -}}
["orchestrator", "inventory", "payment", "shipping"]
{{- end -}}

{{/* Name of the Configuration the sidecars load, or "" for none. */}}
{{- define "saga-platform.daprConfigName" -}}
{{- if .Values.dapr.config -}}
{{- .Values.dapr.config -}}
{{- else if and .Values.components.enabled .Values.components.configuration.enabled -}}
{{- include "saga-platform.fullname" . }}-config
{{- end -}}
{{- end -}}

{{/* Sidecar injection annotations of one Dapr app: (dict "root" $ "appId" "inventory" "appPort" 6001).
Every app serves Dapr's AppCallback over gRPC (dapr.ext.grpc.App), hence app-protocol grpc. */}}
{{- define "saga-platform.daprAnnotations" -}}
{{- $dapr := .root.Values.dapr -}}
dapr.io/enabled: "true"
dapr.io/app-id: {{ .appId | quote }}
dapr.io/app-port: {{ .appPort | quote }}
dapr.io/app-protocol: grpc
{{- with include "saga-platform.daprConfigName" .root }}
dapr.io/config: {{ . | quote }}
{{- end }}
{{- with $dapr.apiTokenSecret }}
dapr.io/api-token-secret: {{ . | quote }}
{{- end }}
dapr.io/log-level: {{ $dapr.logLevel | quote }}
dapr.io/log-as-json: {{ $dapr.logAsJson | quote }}
dapr.io/sidecar-cpu-request: {{ $dapr.sidecar.resources.requests.cpu | quote }}
dapr.io/sidecar-memory-request: {{ $dapr.sidecar.resources.requests.memory | quote }}
dapr.io/sidecar-cpu-limit: {{ $dapr.sidecar.resources.limits.cpu | quote }}
dapr.io/sidecar-memory-limit: {{ $dapr.sidecar.resources.limits.memory | quote }}
dapr.io/sidecar-seccomp-profile-type: RuntimeDefault
dapr.io/enable-metrics: {{ .root.Values.metrics.enabled | quote }}
dapr.io/metrics-port: {{ .root.Values.metrics.daprPort | quote }}
{{- end -}}

{{/* True ("true") when the chart renders a PodMonitor: metrics on, asked for, and the
cluster serves the Prometheus Operator's API. */}}
{{- define "saga-platform.podMonitorRendered" -}}
{{- $m := .Values.metrics -}}
{{- if and $m.enabled $m.podMonitor.enabled (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") -}}
true
{{- end -}}
{{- end -}}

{{/* prometheus.io/* annotations for the app's own /metrics when no PodMonitor scrapes it:
(dict "root" $ "port" 9091). One port per pod: daprd's metrics are then not scraped (the
Dapr injector adds its own annotations only where none are set). */}}
{{- define "saga-platform.scrapeAnnotations" -}}
{{- if and .root.Values.metrics.enabled (not (include "saga-platform.podMonitorRendered" .root)) -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}

{{/* Pod-level security context (Pod Security "restricted"). */}}
{{- define "saga-platform.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podUser.runAsUser }}
runAsGroup: {{ .Values.podUser.runAsGroup }}
fsGroup: {{ .Values.podUser.fsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Container-level security context (Pod Security "restricted", read-only root). */}}
{{- define "saga-platform.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.podUser.runAsUser }}
runAsGroup: {{ .Values.podUser.runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Scheduling and pull settings of a pod: (dict "root" $ "app" .Values.x). */}}
{{- define "saga-platform.podScheduling" -}}
{{- with .root.Values.images.pullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- with .app.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .app.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .app.affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .app.topologySpreadConstraints }}
topologySpreadConstraints:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* An exec probe that connects to the app's callback port on loopback: the apps bind their
gRPC server to 127.0.0.1 (only the sidecar in the same pod calls them), so a kubelet TCP or
gRPC probe, which dials the pod IP, cannot reach it. */}}
{{- define "saga-platform.loopbackProbe" -}}
exec:
  command:
    - python
    - -c
    - "import socket; socket.create_connection(('127.0.0.1', {{ . }}), timeout=2).close()"
{{- end -}}

{{/* The Deployment of a command service (inventory, payment, shipping):
(dict "root" $ "appId" "inventory" "app" .Values.inventory "env" (list ...)). */}}
{{- define "saga-platform.commandServiceDeployment" -}}
{{- $ctx := dict "root" .root "component" .appId -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "saga-platform.componentName" $ctx }}
  namespace: {{ include "saga-platform.namespace" .root }}
  labels:
    {{- include "saga-platform.labels" $ctx | nindent 4 }}
spec:
  replicas: {{ .app.replicaCount }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "saga-platform.selectorLabels" $ctx | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "saga-platform.labels" $ctx | nindent 8 }}
        {{- with .app.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        {{- include "saga-platform.daprAnnotations" (dict "root" .root "appId" .appId "appPort" .app.appPort) | nindent 8 }}
        {{- with include "saga-platform.scrapeAnnotations" (dict "root" .root "port" .root.Values.metrics.servicePort) }}
        {{- . | nindent 8 }}
        {{- end }}
        {{- with .app.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "saga-platform.componentName" $ctx }}
      securityContext:
        {{- include "saga-platform.podSecurityContext" .root | nindent 8 }}
      {{- with include "saga-platform.podScheduling" (dict "root" .root "app" .app) }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        - name: {{ .appId }}
          image: {{ include "saga-platform.image" (dict "root" .root "image" .app.image) | quote }}
          imagePullPolicy: {{ .root.Values.images.pullPolicy }}
          {{- if .root.Values.metrics.enabled }}
          ports:
            - name: metrics
              containerPort: {{ .root.Values.metrics.servicePort }}
              protocol: TCP
          {{- end }}
          env:
            - name: APP_ID
              value: {{ .appId | quote }}
            - name: APP_PORT
              value: {{ .app.appPort | quote }}
            - name: LOG_LEVEL
              value: {{ .app.logLevel | quote }}
            {{- if .root.Values.metrics.enabled }}
            - name: METRICS_PORT
              value: {{ .root.Values.metrics.servicePort | quote }}
            - name: METRICS_HOST
              value: "0.0.0.0"
            {{- end }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with .app.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          startupProbe:
            {{- include "saga-platform.loopbackProbe" .app.appPort | nindent 12 }}
            periodSeconds: 5
            timeoutSeconds: 5
            failureThreshold: 36
          livenessProbe:
            {{- include "saga-platform.loopbackProbe" .app.appPort | nindent 12 }}
            periodSeconds: 20
            timeoutSeconds: 5
            failureThreshold: 3
          readinessProbe:
            {{- include "saga-platform.loopbackProbe" .app.appPort | nindent 12 }}
            periodSeconds: 10
            timeoutSeconds: 5
            failureThreshold: 3
          resources:
            {{- toYaml .app.resources | nindent 12 }}
          securityContext:
            {{- include "saga-platform.containerSecurityContext" .root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: 64Mi
{{- end -}}

{{/* The ServiceAccount of one component: (dict "root" $ "component" "inventory" "annotations" {...}).
Its token stays mounted in the Dapr apps' pods: daprd reads it (Kubernetes secret store). */}}
{{- define "saga-platform.serviceAccount" -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "saga-platform.componentName" $ctx }}
  namespace: {{ include "saga-platform.namespace" .root }}
  labels:
    {{- include "saga-platform.labels" $ctx | nindent 4 }}
  {{- with .annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{/* A PodDisruptionBudget when the component runs more than one replica:
(dict "root" $ "component" "inventory" "replicas" 3). */}}
{{- define "saga-platform.podDisruptionBudget" -}}
{{- if gt (int .replicas) 1 -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "saga-platform.componentName" $ctx }}
  namespace: {{ include "saga-platform.namespace" .root }}
  labels:
    {{- include "saga-platform.labels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ .root.Values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "saga-platform.selectorLabels" $ctx | nindent 6 }}
{{- end -}}
{{- end -}}

{{/* The ingress rules every Dapr app's pods need: daprd's internal gRPC port (50002) from
the release's other sidecars (workflow actors move between orchestrator replicas) and,
when configured, metrics scrapes (daprd's port and the app's own, `metricsPort`):
(dict "root" $ "metricsPort" 9091). */}}
{{- define "saga-platform.daprIngressRules" -}}
{{- $root := .root -}}
- from:
    - podSelector:
        matchLabels:
          app.kubernetes.io/name: {{ include "saga-platform.name" $root }}
          app.kubernetes.io/instance: {{ $root.Release.Name }}
  ports:
    - protocol: TCP
      port: 50002
{{- with $root.Values.networkPolicy.metricsFrom }}
- from:
    {{- toYaml . | nindent 4 }}
  ports:
    - protocol: TCP
      port: {{ $root.Values.metrics.daprPort }}
    {{- if $root.Values.metrics.enabled }}
    - protocol: TCP
      port: {{ $.metricsPort }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* The NetworkPolicy of a command service: Dapr's own ingress, plus `ingress` (YAML rules). */}}
{{- define "saga-platform.commandServiceNetworkPolicy" -}}
{{- if .root.Values.networkPolicy.enabled -}}
{{- $ctx := dict "root" .root "component" .component -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "saga-platform.componentName" $ctx }}
  namespace: {{ include "saga-platform.namespace" .root }}
  labels:
    {{- include "saga-platform.labels" $ctx | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "saga-platform.selectorLabels" $ctx | nindent 6 }}
  policyTypes: ["Ingress"]
  ingress:
    {{- include "saga-platform.daprIngressRules" (dict "root" .root "metricsPort" .root.Values.metrics.servicePort) | nindent 4 }}
    {{- with .ingress }}
    {{- . | nindent 4 }}
    {{- end }}
{{- end -}}
{{- end -}}

{{/* A Dapr component metadata item whose value comes from a Secret: (dict "name" "redisPassword" "secret" {name, key}). */}}
{{- define "saga-platform.secretMetadata" -}}
- name: {{ .name }}
  secretKeyRef:
    name: {{ .secret.name }}
    key: {{ .secret.key }}
{{- end -}}

{{/* A Resiliency retry policy from {policy, duration, maxInterval, maxRetries}. */}}
{{- define "saga-platform.retryPolicy" -}}
policy: {{ .policy }}
{{- with .duration }}
duration: {{ . }}
{{- end }}
{{- with .maxInterval }}
maxInterval: {{ . }}
{{- end }}
maxRetries: {{ .maxRetries }}
{{- end -}}

{{/* The namespaces the operator serves, as a JSON list; [] means every namespace
(watchNamespaces ["*"]). Default: the release namespace. */}}
{{- define "saga-platform.operatorNamespaces" -}}
{{- $watch := .Values.operator.watchNamespaces -}}
{{- if has "*" $watch -}}
[]
{{- else if $watch -}}
{{- toJson (uniq $watch) -}}
{{- else -}}
{{- toJson (list .Release.Namespace) -}}
{{- end -}}
{{- end -}}

{{/* The operator's RBAC rules: those of operator/rbac.yaml, verb for verb (tests/chart
asserts they are equal, and that they are the verbs the operator's code calls). */}}
{{- define "saga-platform.operatorRules" -}}
# Watch the runs (list + watch), put and remove the finalizer and kopf's bookkeeping
# annotations (patch), delete a run whose ttlSecondsAfterFinished ran out (delete).
- apiGroups: ["saga.dapr.io"]
  resources: ["workflowruns"]
  verbs: ["list", "watch", "patch", "delete"]
# Write the status subresource: phase, instance id, output, conditions, processed events.
- apiGroups: ["saga.dapr.io"]
  resources: ["workflowruns/status"]
  verbs: ["patch"]
# Kubernetes Events on the runs (started, suspended, UnknownWorkflow, InvalidSpec, ...).
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}
