{{- define "metachat.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "metachat.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{ include "metachat.selectorLabels" . }}
{{- end -}}

{{- define "metachat.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "metachat.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "metachat.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{ .Values.serviceAccount.name | default (include "metachat.fullname" .) }}
{{- else -}}
{{ .Values.serviceAccount.name | default "default" }}
{{- end -}}
{{- end -}}

{{- define "metachat.secretName" -}}
{{ required "secrets.existingSecret: the name of a Secret with DATABASE_URL, ADMIN_API_KEY and SECRETS_KEYS" .Values.secrets.existingSecret }}
{{- end -}}

{{/* One variable from the Secret. */}}
{{- define "metachat.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* The environment every API and worker container gets: config, document storage, secrets. */}}
{{- define "metachat.env" -}}
{{- $secret := include "metachat.secretName" . -}}
{{- range $name, $value := .Values.config }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
- name: DOCUMENT_STORAGE
  value: {{ .Values.documents.storage | quote }}
{{- if eq .Values.documents.storage "s3" }}
- name: S3_BUCKET
  value: {{ required "documents.s3.bucket is required with documents.storage=s3" .Values.documents.s3.bucket | quote }}
- name: S3_REGION
  value: {{ required "documents.s3.region is required with documents.storage=s3" .Values.documents.s3.region | quote }}
{{- with .Values.documents.s3.endpoint }}
- name: S3_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: S3_FORCE_PATH_STYLE
  value: {{ .Values.documents.s3.forcePathStyle | toString | quote }}
{{- else }}
- name: DOCUMENT_STORAGE_DIR
  value: {{ .Values.documents.dir | quote }}
{{- end }}
{{- include "metachat.temporalTlsEnv" . }}
{{- range list "DATABASE_URL" "ADMIN_API_KEY" "SECRETS_KEYS" }}
{{ include "metachat.secretEnv" (dict "key" . "secret" $secret) }}
{{- end }}
{{- range list "OPENAI_API_KEY" "ANTHROPIC_API_KEY" "TEMPORAL_API_KEY" "SMTP_URL" }}
{{ include "metachat.secretEnv" (dict "key" . "secret" $secret "optional" true) }}
{{- end }}
{{- end -}}

{{/*
Stripe billing, for the processes that talk to Stripe (the API and the maintenance worker): its
keys from the Secret, optional (absent: billing off), and the plans' prices from values.
*/}}
{{- define "metachat.billingEnv" -}}
{{- $secret := include "metachat.secretName" . -}}
{{- range list "STRIPE_SECRET_KEY" "STRIPE_WEBHOOK_SECRET" }}
{{ include "metachat.secretEnv" (dict "key" . "secret" $secret "optional" true) }}
{{- end }}
{{- with .Values.billing.prices }}
- name: STRIPE_PRICES
  value: {{ include "metachat.pairs" . | quote }}
{{- end }}
{{- end -}}

{{/* A map as the config's `key:value,…` pairs (sorted by key). */}}
{{- define "metachat.pairs" -}}
{{- $pairs := list -}}
{{- range $key, $value := . -}}
{{- $pairs = append $pairs (printf "%s:%s" $key $value) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The client certificate's files for mTLS to Temporal (temporalTls), where they are mounted. */}}
{{- define "metachat.temporalTlsEnv" -}}
{{- with .Values.temporalTls }}
{{- if .existingSecret }}
- name: TEMPORAL_TLS_CERT_FILE
  value: /etc/metachat/temporal-tls/tls.crt
- name: TEMPORAL_TLS_KEY_FILE
  value: /etc/metachat/temporal-tls/tls.key
{{- if .ca }}
- name: TEMPORAL_TLS_CA_FILE
  value: /etc/metachat/temporal-tls/ca.crt
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The temporal-setup hook's environment: the connection to Temporal only (scripts/temporal-setup.ts). */}}
{{- define "metachat.temporalSetupEnv" -}}
{{- range $name, $value := .Values.config }}
{{- if hasPrefix "TEMPORAL_" $name }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
{{- include "metachat.temporalTlsEnv" . }}
{{ include "metachat.secretEnv" (dict "key" "TEMPORAL_API_KEY" "secret" (include "metachat.secretName" .) "optional" true) }}
{{- end -}}

{{- define "metachat.temporalTlsVolume" -}}
{{- if .Values.temporalTls.existingSecret }}
- name: temporal-tls
  secret:
    secretName: {{ .Values.temporalTls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}

{{- define "metachat.temporalTlsMount" -}}
{{- if .Values.temporalTls.existingSecret }}
- name: temporal-tls
  mountPath: /etc/metachat/temporal-tls
  readOnly: true
{{- end }}
{{- end -}}

{{/* Volumes of API and worker pods: a writable /tmp (the root file system is read-only) and the documents. */}}
{{- define "metachat.volumes" -}}
- name: tmp
  emptyDir: {}
{{- include "metachat.temporalTlsVolume" . }}
{{- if eq .Values.documents.storage "local" }}
- name: documents
  persistentVolumeClaim:
    claimName: {{ .Values.documents.persistence.existingClaim | default (printf "%s-documents" (include "metachat.fullname" .)) }}
{{- end }}
{{- end -}}

{{- define "metachat.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- include "metachat.temporalTlsMount" . }}
{{- if eq .Values.documents.storage "local" }}
- name: documents
  mountPath: {{ .Values.documents.dir }}
{{- end }}
{{- end -}}

{{/*
Seconds Kubernetes waits after SIGTERM before SIGKILL, for a worker: its drain
(WORKER_SHUTDOWN_GRACE_MS), 5 s for cancelled activities to acknowledge and 2 s to close
(workers/shutdown-signals.ts), rounded up, and 3 s to spare.
*/}}
{{- define "metachat.workerTerminationGrace" -}}
{{- add (div (add (int .) 7000 999) 1000) 3 -}}
{{- end -}}
