{{/* Names, labels and the node configurations shared by the templates. */}}

{{- define "mmmfed.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-scoped name; component names append "-gateway" etc., so leave room for them. */}}
{{- define "mmmfed.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mmmfed.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "mmmfed.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mmmfed
{{- end }}

{{/* Selector labels of one component: include with (dict "ctx" $ "component" "gateway"). */}}
{{- define "mmmfed.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mmmfed.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "mmmfed.componentLabels" -}}
{{ include "mmmfed.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "mmmfed.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Highest number of gateway pods that can run at once. */}}
{{- define "mmmfed.gatewayMaxReplicas" -}}
{{- if .Values.gateway.autoscaling.enabled }}
{{- max (int .Values.gateway.replicas) (int .Values.gateway.autoscaling.maxReplicas) }}
{{- else }}
{{- int .Values.gateway.replicas }}
{{- end }}
{{- end }}

{{/* "true" when the gateway keeps its data_dir on a PVC: one replica, no autoscaling. */}}
{{- define "mmmfed.gatewayPersistent" -}}
{{- if and .Values.gateway.persistence.enabled (eq (include "mmmfed.gatewayMaxReplicas" .) "1") }}true{{ end }}
{{- end }}

{{/* Rules between values that the schema cannot say with a useful message. */}}
{{- define "mmmfed.validate" -}}
{{- $max := int (include "mmmfed.gatewayMaxReplicas" .) }}
{{- if and (gt $max 1) (eq .Values.redis.mode "none") }}
{{- fail (printf "gateway.replicas/autoscaling allow %d gateway replicas, but redis.mode is \"none\" (store.backend \"sqlite\" is one node's store): set redis.mode to \"external\" or \"internal\"" $max) }}
{{- end }}
{{- if and (gt $max 1) (not .Values.gateway.signingKeys.existingSecret) }}
{{- fail (printf "%d gateway replicas need gateway.signingKeys.existingSecret, so that every replica signs with the same instance keys" $max) }}
{{- end }}
{{- if and .Values.gateway.autoscaling.enabled (gt (int .Values.gateway.autoscaling.minReplicas) (int .Values.gateway.autoscaling.maxReplicas)) }}
{{- fail "gateway.autoscaling.minReplicas is greater than gateway.autoscaling.maxReplicas" }}
{{- end }}
{{- end }}

{{/* Paths inside every mmmfed container. */}}
{{- define "mmmfed.configPath" -}}/etc/mmmfed/config/node.json{{- end }}
{{- define "mmmfed.tlsConfig" -}}
{{- dict "ca_cert" "/etc/mmmfed/tls/ca.pem" "cert" "/etc/mmmfed/tls/tls.crt" "key" "/etc/mmmfed/tls/tls.key" | toJson }}
{{- end }}
{{- define "mmmfed.dataDir" -}}/var/lib/mmmfed{{- end }}

{{- define "mmmfed.grpcAddress" -}}
{{- printf "%s-%s:%d" (include "mmmfed.fullname" .ctx) .component (int .ctx.Values.ports.grpc) }}
{{- end }}

{{- define "mmmfed.observability" -}}
{{- $o := dict "log_format" .Values.observability.logFormat }}
{{- if .Values.observability.metrics }}
{{- $_ := set $o "metrics_listen" (printf "0.0.0.0:%d" (int .Values.ports.metrics)) }}
{{- end }}
{{- toJson $o }}
{{- end }}

{{- define "mmmfed.redisUrl" -}}
{{- if eq .Values.redis.mode "internal" }}
{{- printf "redis://%s-redis:6379/0" (include "mmmfed.fullname" .) }}
{{- else }}
{{- .Values.redis.url }}
{{- end }}
{{- end }}

{{/* GatewayConfig as JSON. */}}
{{- define "mmmfed.gatewayConfig" -}}
{{- $g := .Values.gateway }}
{{- $store := dict "backend" "sqlite" }}
{{- if ne .Values.redis.mode "none" }}
{{- $store = dict "backend" "redis" "redis_key_prefix" .Values.redis.keyPrefix "redis_wait_replicas" (int .Values.redis.waitReplicas) "redis_wait_timeout_ms" (int .Values.redis.waitTimeoutMs) }}
{{- with include "mmmfed.redisUrl" . }}
{{- $_ := set $store "redis_url" . }}
{{- end }}
{{- end }}
{{- $bridges := deepCopy $g.bridges }}
{{- if .Values.bridge.enabled }}
{{- $_ := set $bridges .Values.bridge.bridgeId (dict "tls_name" .Values.bridge.tlsName "address" (include "mmmfed.grpcAddress" (dict "ctx" . "component" "bridge")) "bundle" "/etc/mmmfed/tls/ca.pem") }}
{{- end }}
{{- $peers := dict }}
{{- range $id, $p := $g.peers }}
{{- $entry := deepCopy $p }}
{{- if not (hasKey $entry "bundle") }}
{{- $_ := set $entry "bundle" (printf "/etc/mmmfed/tls/peers/%s.pem" $id) }}
{{- end }}
{{- $_ := set $peers $id $entry }}
{{- end }}
{{- $cfg := dict
  "kind" "gateway"
  "m_instance_id" .Values.mInstanceId
  "tls_name" $g.tlsName
  "listen" (printf "0.0.0.0:%d" (int .Values.ports.grpc))
  "data_dir" (include "mmmfed.dataDir" .)
  "tls" (include "mmmfed.tlsConfig" . | fromJson)
  "instance" (dict "tls_name" .Values.instance.tlsName "address" (include "mmmfed.grpcAddress" (dict "ctx" . "component" "instance")))
  "peers" $peers
  "bridges" $bridges
  "max_item_bytes" (int64 $g.maxItemBytes)
  "platform_clients" $g.platformClients
  "rules" $g.rules
  "accept_agreements_from" $g.acceptAgreementsFrom
  "store" $store
  "observability" (include "mmmfed.observability" . | fromJson)
}}
{{- toPrettyJson $cfg }}
{{- end }}

{{/* InstanceConfig as JSON. */}}
{{- define "mmmfed.instanceConfig" -}}
{{- $i := .Values.instance }}
{{- $cfg := dict
  "kind" "instance"
  "m_instance_id" .Values.mInstanceId
  "tls_name" $i.tlsName
  "listen" (printf "0.0.0.0:%d" (int .Values.ports.grpc))
  "data_dir" (include "mmmfed.dataDir" .)
  "tls" (include "mmmfed.tlsConfig" . | fromJson)
  "gateway" (dict "tls_name" .Values.gateway.tlsName "address" (include "mmmfed.grpcAddress" (dict "ctx" . "component" "gateway")))
  "manifesto" $i.manifesto
  "max_item_bytes" (int64 $i.maxItemBytes)
  "observability" (include "mmmfed.observability" . | fromJson)
}}
{{- with $i.defaultAvatar }}
{{- $_ := set $cfg "default_avatar" . }}
{{- end }}
{{- toPrettyJson $cfg }}
{{- end }}

{{/* BridgeConfig as JSON. */}}
{{- define "mmmfed.bridgeConfig" -}}
{{- $b := .Values.bridge }}
{{- $cfg := dict
  "kind" "bridge"
  "bridge_id" $b.bridgeId
  "trust_domain" .Values.mInstanceId
  "gateways" (dict .Values.mInstanceId (dict "tls_name" .Values.gateway.tlsName "bundle" "/etc/mmmfed/tls/ca.pem"))
  "tls_name" $b.tlsName
  "listen" (printf "0.0.0.0:%d" (int .Values.ports.grpc))
  "data_dir" (include "mmmfed.dataDir" .)
  "tls" (include "mmmfed.tlsConfig" . | fromJson)
  "max_item_bytes" (int64 $b.maxItemBytes)
  "observability" (include "mmmfed.observability" . | fromJson)
}}
{{- with $b.nodeModulesDir }}
{{- $_ := set $cfg "node_modules_dir" . }}
{{- end }}
{{- if $b.signingKey.existingSecret }}
{{- $_ := set $cfg "signing_key" (printf "/etc/mmmfed/signing/%s" $b.signingKey.key) }}
{{- end }}
{{- toPrettyJson $cfg }}
{{- end }}

{{/*
The pod-level parts every mmmfed node shares: volumes for its config, its TLS material (the CA
Secret and the node's kubernetes.io/tls Secret projected into one read-only directory), the probe
script and /tmp. Include with (dict "ctx" $ "component" "gateway" "secret" NAME).
*/}}
{{- define "mmmfed.nodeVolumes" -}}
- name: config
  configMap:
    name: {{ include "mmmfed.fullname" .ctx }}-{{ .component }}
- name: tls
  projected:
    defaultMode: 0440
    sources:
      - secret:
          name: {{ .ctx.Values.tls.caSecret }}
          items:
            - key: {{ .ctx.Values.tls.caKey }}
              path: ca.pem
      - secret:
          name: {{ .secret }}
          items:
            - key: tls.crt
              path: tls.crt
            - key: tls.key
              path: tls.key
      {{- if and (eq .component "gateway") .ctx.Values.gateway.peers }}
      - secret:
          name: {{ .ctx.Values.gateway.peerBundlesSecret }}
          items:
            {{- range $id, $_ := .ctx.Values.gateway.peers }}
            - key: {{ $id }}.pem
              path: peers/{{ $id }}.pem
            {{- end }}
      {{- end }}
- name: probe
  configMap:
    name: {{ include "mmmfed.fullname" .ctx }}-probe
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end }}

{{- define "mmmfed.nodeVolumeMounts" -}}
- name: config
  mountPath: /etc/mmmfed/config
  readOnly: true
- name: tls
  mountPath: /etc/mmmfed/tls
  readOnly: true
- name: probe
  mountPath: /etc/mmmfed/probe
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* The mmmfed container's ports, probes and security context (include with the root context). */}}
{{- define "mmmfed.nodeContainerCommon" -}}
image: {{ include "mmmfed.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
ports:
  - name: grpc
    containerPort: {{ .Values.ports.grpc }}
    protocol: TCP
  {{- if .Values.observability.metrics }}
  - name: metrics
    containerPort: {{ .Values.ports.metrics }}
    protocol: TCP
  {{- end }}
readinessProbe:
  exec:
    command: [python3, /etc/mmmfed/probe/health_probe.py, {{ include "mmmfed.configPath" . }}, ready]
  initialDelaySeconds: {{ .Values.probes.readiness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
  failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
livenessProbe:
  exec:
    command: [python3, /etc/mmmfed/probe/health_probe.py, {{ include "mmmfed.configPath" . }}, live]
  initialDelaySeconds: {{ .Values.probes.liveness.initialDelaySeconds }}
  periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
  failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  timeoutSeconds: {{ .Values.probes.timeoutSeconds }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
{{- end }}

{{- define "mmmfed.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end }}

{{- define "mmmfed.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The in-chart Redis: AOF, fsynced before every answer. */}}
{{- define "mmmfed.redisConf" -}}
port 6379
# No password: only the gateway's pods may connect (redis.internal.networkPolicy).
protected-mode no
dir /data
appendonly yes
appendfsync always
appenddirname appendonlydir
save ""
maxmemory-policy noeviction
{{- end }}

{{/* Environment of every node container: its C allocator (mmmfed/allocator.py, values "malloc"). */}}
{{- define "mmmfed.nodeEnv" -}}
- name: MALLOC_ARENA_MAX
  value: {{ .Values.malloc.arenaMax | quote }}
- name: MMMFED_MALLOC_TRIM_S
  value: {{ .Values.malloc.trimSeconds | quote }}
{{- end -}}
