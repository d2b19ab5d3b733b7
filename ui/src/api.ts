// The UI's view of ringo's HTTP API: MLflow's REST API (ajax-api), the artifact proxy and
// ringo's own endpoints. Types carry MLflow's field names, one word per concept.

export interface Tag {
  key: string;
  value: string;
}
export type Param = Tag;
export interface Metric {
  key: string;
  value: number | string; // proto3 JSON writes NaN and infinities as strings
  timestamp: number;
  step: number;
}
export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: string;
  creation_time?: number;
  last_update_time?: number;
  tags?: Tag[];
}
export interface RunInfo {
  run_id: string;
  run_name?: string;
  experiment_id: string;
  user_id?: string;
  status: string;
  start_time?: number;
  end_time?: number;
  artifact_uri?: string;
  lifecycle_stage: string;
}
export interface Dataset {
  name: string;
  digest: string;
  source_type?: string;
  source?: string;
  schema?: string;
  profile?: string;
}
export interface DatasetInput {
  tags?: Tag[];
  dataset: Dataset;
}
export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: Param[]; tags?: Tag[] };
  inputs?: { dataset_inputs?: DatasetInput[] };
  /** MLflow 3: the logged models the run produced. */
  outputs?: { model_outputs?: { model_id: string; step?: number }[] };
}
/** MLflow 3's logged model (logged-models/...). */
export interface LoggedModel {
  info: {
    model_id: string;
    experiment_id: string;
    name: string;
    model_type?: string;
    source_run_id?: string;
    status: string;
    status_message?: string;
    artifact_uri: string;
    creation_timestamp_ms: number;
    last_updated_timestamp_ms: number;
    tags?: Tag[];
  };
  data: { params?: Param[] };
}
export interface Artifact {
  path: string;
  is_dir?: boolean;
  file_size?: number;
}
/** One bucket of /api/ringo/v1/metrics/downsample. */
export interface Bucket {
  x: number;
  min: number;
  max: number;
  first: number;
  last: number;
  count: number;
}
export interface Downsample {
  points: Bucket[];
  total: number;
}
/** `ringo inspect --json`, as served by /api/ringo/v1/coreml/inspect. */
export interface Feature {
  name: string;
  type?: string;
  shape?: number[];
  data_type?: string;
  width?: number;
  height?: number;
  color_space?: string;
  key_type?: string;
  optional?: boolean;
}
export interface ModelCard {
  specification_version?: number;
  minimum_ios?: string;
  minimum_macos?: string;
  model_type?: string;
  inputs?: Feature[];
  outputs?: Feature[];
  class_labels?: (string | number)[];
  metadata?: Record<string, unknown>;
  layer_counts?: Record<string, number>;
  parameter_count?: number;
  weight_precision?: string;
  file_size?: number;
  valid?: boolean;
  problems?: string[];
}

/** A failed call: the HTTP status and MLflow's error_code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | undefined | string[]>;

function queryString(q: Query): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) v.forEach((x) => s.append(k, x));
    else s.append(k, String(v));
  }
  const t = s.toString();
  return t ? '?' + t : '';
}

const fromPage = { 'X-Requested-With': 'ringo-ui' };

async function request<T>(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    // Changes always travel as JSON: the server refuses cookie-authenticated changes that are not
    // (no other site's page can send JSON with this site's cookie).
    const changes = method !== 'GET' && method !== 'HEAD';
    res = await fetch(url, {
      method,
      signal,
      // X-Requested-With: the server then answers 401 without a basic-auth challenge, so the
      // browser shows this page's sign-in form rather than its own password dialog.
      headers: changes ? { 'Content-Type': 'application/json', ...fromPage } : fromPage,
      body: changes ? JSON.stringify(body ?? {}) : undefined,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'UNAVAILABLE', `cannot reach the server (${(e as Error).message})`);
  }
  const text = await res.text();
  let json: any = {};
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    if (!res.ok) throw new ApiError(res.status, 'HTTP_' + res.status, text.slice(0, 300) || res.statusText);
    throw new ApiError(res.status, 'BAD_RESPONSE', 'the server answered something that is not JSON');
  }
  if (!res.ok) throw new ApiError(res.status, json.error_code ?? 'HTTP_' + res.status, json.message ?? res.statusText);
  return json as T;
}

/** Hands a token to the server, which keeps it in an HttpOnly cookie for this browser. */
/** Signs in with a token, or a user's name and password (the server then makes a 12-hour session token). */
export const signIn = (credentials: { token: string } | { username: string; password: string }) =>
  request<{ scope: string }>('POST', '/api/ringo/v1/session', credentials);

const mlflow = '/ajax-api/2.0/mlflow/';
const get = <T>(path: string, q: Query, signal?: AbortSignal) =>
  request<T>('GET', mlflow + path + queryString(q), undefined, signal);
const post = <T>(path: string, body: unknown, signal?: AbortSignal) =>
  request<T>('POST', mlflow + path, body, signal);

export function searchExperiments(filter: string, signal?: AbortSignal) {
  return post<{ experiments?: Experiment[]; next_page_token?: string }>(
    'experiments/search',
    { max_results: 1000, filter: filter || undefined, order_by: ['last_update_time DESC'] },
    signal,
  );
}
export const getExperiment = (experiment_id: string, signal?: AbortSignal) =>
  get<{ experiment: Experiment }>('experiments/get', { experiment_id }, signal).then((r) => r.experiment);
export const createExperiment = (name: string) =>
  post<{ experiment_id: string }>('experiments/create', { name });
export const renameExperiment = (experiment_id: string, new_name: string) =>
  post<{}>('experiments/update', { experiment_id, new_name });
export const deleteExperiment = (experiment_id: string) => post<{}>('experiments/delete', { experiment_id });
export const restoreExperiment = (experiment_id: string) => post<{}>('experiments/restore', { experiment_id });
export const renameRun = (run_id: string, run_name: string) => post<{}>('runs/update', { run_id, run_name });
export const deleteRun = (run_id: string) => post<{}>('runs/delete', { run_id });
export const restoreRun = (run_id: string) => post<{}>('runs/restore', { run_id });
export const setRunTag = (run_id: string, key: string, value: string) => post<{}>('runs/set-tag', { run_id, key, value });
export const deleteRunTag = (run_id: string, key: string) => post<{}>('runs/delete-tag', { run_id, key });

export interface SearchRuns {
  experiment_ids: string[];
  filter?: string;
  order_by?: string[];
  max_results?: number;
  page_token?: string;
}
export const searchRuns = (q: SearchRuns, signal?: AbortSignal) =>
  post<{ runs?: Run[]; next_page_token?: string }>('runs/search', q, signal);
export const getRun = (run_id: string, signal?: AbortSignal) =>
  get<{ run: Run }>('runs/get', { run_id }, signal).then((r) => r.run);
export const getMetricHistory = (run_id: string, metric_key: string, signal?: AbortSignal) =>
  get<{ metrics?: Metric[] }>('metrics/get-history', { run_id, metric_key }, signal);

export const downsampleMetric = (
  q: { run_id: string; key: string; buckets: number; start?: number; end?: number; x: 'step' | 'time' },
  signal?: AbortSignal,
) => request<Downsample>('GET', '/api/ringo/v1/metrics/downsample' + queryString(q), undefined, signal);

export const inspectModel = (run_id: string, path: string, signal?: AbortSignal) =>
  request<ModelCard>('GET', '/api/ringo/v1/coreml/inspect' + queryString({ run_id, path }), undefined, signal);

/** The proxy path of a run's artifact root: `mlflow-artifacts:/1/abc/artifacts` -> `1/abc/artifacts`. */
export function artifactRoot(run: Run): string {
  const uri = run.info.artifact_uri ?? '';
  const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*)$/.exec(uri);
  return m ? m[1].replace(/\/+$/, '') : `${run.info.experiment_id}/${run.info.run_id}/artifacts`;
}
const join = (a: string, b: string) => (b ? `${a}/${b}` : a);
const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

export const listArtifacts = (run: Run, dir: string, signal?: AbortSignal) =>
  request<{ files?: Artifact[] }>(
    'GET',
    '/api/2.0/mlflow-artifacts/artifacts' + queryString({ path: join(artifactRoot(run), dir) }),
    undefined,
    signal,
  ).then((r) => r.files ?? []);

/** A run's artifact folder or file as one zip (stored entries), or all its artifacts for ''. */
export const artifactZipUrl = (run: Run, path: string) =>
  '/api/ringo/v1/artifacts/zip' + queryString({ run_id: run.info.run_id, path: path || undefined });

export const artifactUrl = (run: Run, path: string) =>
  '/api/2.0/mlflow-artifacts/artifacts/' + encodePath(join(artifactRoot(run), path));

/** The first `limit` bytes of an artifact as text (Range request), and whether it was cut. */
export async function readArtifactText(run: Run, path: string, limit: number, signal?: AbortSignal) {
  const res = await fetch(artifactUrl(run, path), { headers: { Range: `bytes=0-${limit - 1}`, ...fromPage }, signal });
  if (res.status === 404) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `artifact '${path}' not found`);
  // A range past the end of an existing file: it is empty (servers answer `bytes */0`).
  if (res.status === 416) return { text: '', truncated: false };
  if (!res.ok) throw new ApiError(res.status, 'HTTP_' + res.status, res.statusText);
  const text = await res.text();
  const range = res.headers.get('Content-Range');
  const total = range ? Number(range.split('/')[1]) : text.length;
  return { text, truncated: res.status === 206 && total > limit };
}

export const tagValue = (run: Run, key: string) => run.data.tags?.find((t) => t.key === key)?.value;
export const runName = (run: Run) => run.info.run_name || tagValue(run, 'mlflow.runName') || run.info.run_id.slice(0, 8);
export const toNumber = (v: number | string) => (typeof v === 'number' ? v : Number(v));

// The model registry (MLflow's registered-models and model-versions).
export interface ModelVersion {
  name: string;
  version: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  current_stage?: string;
  description?: string;
  source?: string;
  run_id?: string;
  status?: string;
  tags?: Tag[];
  aliases?: string[];
}
export interface RegisteredModel {
  name: string;
  creation_timestamp?: number;
  last_updated_timestamp?: number;
  description?: string;
  latest_versions?: ModelVersion[];
  tags?: Tag[];
  aliases?: { alias: string; version: string }[];
}
/**
 * /api/ringo/v1/model-versions/coreml: the version's file and its `inspect` summary. A file
 * (.mlmodel) has `sha256`, the file's SHA-256; a directory (.mlpackage) has `tree_sha256`,
 * ringo's hash of its files' names and contents.
 */
export interface CoreMLVersion {
  name: string;
  version: string;
  sha256?: string;
  tree_sha256?: string;
  size: number;
  coreml: ModelCard;
  /** Set instead of the rest when the source holds a Core ML model ringo cannot read. */
  problem?: string;
}

export const getLoggedModel = (model_id: string, signal?: AbortSignal) =>
  get<{ model: LoggedModel }>('logged-models/' + encodeURIComponent(model_id), {}, signal).then((r) => r.model);
export const listLoggedModelArtifacts = (model_id: string, signal?: AbortSignal) =>
  get<{ files?: Artifact[] }>('logged-models/' + encodeURIComponent(model_id) + '/artifacts/directories', {}, signal).then(
    (r) => r.files ?? [],
  );
export const searchModels = (filter: string, signal?: AbortSignal) =>
  get<{ registered_models?: RegisteredModel[]; next_page_token?: string }>(
    'registered-models/search',
    { filter: filter || undefined, max_results: 1000, order_by: 'name ASC' },
    signal,
  );
export const getModel = (name: string, signal?: AbortSignal) =>
  get<{ registered_model: RegisteredModel }>('registered-models/get', { name }, signal).then((r) => r.registered_model);
export const searchVersions = (name: string, signal?: AbortSignal) =>
  get<{ model_versions?: ModelVersion[] }>(
    'model-versions/search',
    { filter: `name='${name.replace(/'/g, "''")}'`, max_results: 1000 },
    signal,
  ).then((r) => r.model_versions ?? []);
export const createModel = (name: string) =>
  post<{ registered_model: RegisteredModel }>('registered-models/create', { name });
/** A new version of `name` from a run's artifact: MLflow's `runs:/<run_id>/<path>` source. */
export const createVersionFromRun = (name: string, run_id: string, path: string) =>
  post<{ model_version: ModelVersion }>('model-versions/create', { name, run_id, source: `runs:/${run_id}/${path}` }).then(
    (r) => r.model_version,
  );
export const transitionStage = (name: string, version: string, stage: string) =>
  post<{}>('model-versions/transition-stage', { name, version, stage, archive_existing_versions: false });
export const setAlias = (name: string, alias: string, version: string) =>
  post<{}>('registered-models/alias', { name, alias, version });
export const deleteAlias = (name: string, alias: string) =>
  request<{}>('DELETE', mlflow + 'registered-models/alias', { name, alias });
export const updateVersionDescription = (name: string, version: string, description: string) =>
  request<{}>('PATCH', mlflow + 'model-versions/update', { name, version, description });
export const deleteVersion = (name: string, version: string) =>
  request<{}>('DELETE', mlflow + 'model-versions/delete', { name, version });
export const coremlVersion = (name: string, version: string, signal?: AbortSignal) =>
  request<CoreMLVersion>('GET', '/api/ringo/v1/model-versions/coreml' + queryString({ name, version }), undefined, signal);

// Delivery: collections, channels, deployments and device telemetry (ringo's admin API).
export interface Channel {
  collection: string;
  name: string;
  deployment_id: string;
  /** What the deployment holds, as people name it: "DigitClassifier v2". */
  deployment_label?: string;
  previous_deployment_id?: string;
  previous_deployment_label?: string;
  rollout: number;
  updated_time?: number;
  /** Targeting rules, in order: the first a device matches picks its deployment. */
  rules?: Rule[];
}
export interface Rule {
  deployment_id: string;
  name?: string;
  device_ids?: string[];
  device_class?: string[];
  os?: string[];
  os_version?: string;
  app_version?: string;
  region?: string[];
  language?: string[];
}
/** The interface an app version range was built against, per model. */
export interface Contract {
  collection: string;
  app_versions: string;
  models: Record<string, { inputs?: Feature[]; outputs?: Feature[] }>;
  creation_time?: number;
  actor?: string;
}
export interface Collection {
  name: string;
  models?: string[];
  creation_time?: number;
  channels?: Channel[];
}
export interface ChannelEvent {
  time: number;
  action: string;
  from?: string;
  to?: string;
  rollout?: number;
  actor?: string;
  reason?: string;
  forced?: boolean;
  /** A forced change: the breaking interface changes the contract gate reported. */
  overridden?: string[];
  /** Action "rules": the rules set. */
  rules?: Rule[];
}
export interface DeployedModel {
  name: string;
  version: string;
  sha256: string;
  size: number;
  format?: string;
  interface_hash?: string;
}
export interface Deployment {
  id: string;
  collection: string;
  creation_time?: number;
  models?: DeployedModel[];
}
export interface TelemetryEvent {
  event: string; // downloaded | compiled | loaded | failed | prediction
  model: string;
  version: string;
  device_class?: string;
  latency_ms?: number;
  compute_unit?: string;
  error?: string;
  time: number;
}

const ringo = <T>(path: string, q: Query, signal?: AbortSignal) =>
  request<T>('GET', '/api/ringo/v1/' + path + queryString(q), undefined, signal);
export const listCollections = (signal?: AbortSignal) =>
  ringo<{ collections?: Collection[] }>('collections', {}, signal).then((r) => r.collections ?? []);
export const channelHistory = (collection: string, channel: string, signal?: AbortSignal) =>
  ringo<{ history?: ChannelEvent[] }>('channels/history', { collection, channel }, signal).then((r) => r.history ?? []);
export const getDeployment = (id: string, signal?: AbortSignal) =>
  ringo<{ deployment: Deployment }>('deployments/get', { id }, signal).then((r) => r.deployment);
export const listContracts = (collection: string, signal?: AbortSignal) =>
  ringo<{ contracts?: Contract[] }>('apps/contracts', { collection }, signal).then((r) => r.contracts ?? []);
/** What a deployment holds, as people name it: "DigitClassifier v2" (models joined by ", "). */
export const deploymentLabel = (d: Deployment) => (d.models ?? []).map((m) => `${m.name} v${m.version}`).join(', ');
/** One row of a telemetry breakdown: event counts, failure rate and latency of one value. */
export interface TelemetryRow {
  counts: Record<string, number>;
  /** (failed + predictions with an error) / (failed + loaded + prediction); null without those. */
  failure_rate: number | null;
  p50_latency_ms: number | null;
  p95_latency_ms: number | null;
}
/** /api/ringo/v1/telemetry/summary: aggregates over every event of a version (true totals). */
export interface TelemetrySummary {
  total: number;
  device_classes: string[];
  first_time?: number;
  last_time?: number;
  failure_rate?: number | null;
  devices: (TelemetryRow & { device_class: string })[];
  os_versions?: (TelemetryRow & { os_version: string })[];
  app_versions?: (TelemetryRow & { app_version: string })[];
  buckets?: {
    start: number[];
    width_ms: number;
    counts: Record<string, number[]>;
    latency_p50_ms: Record<string, (number | null)[]>;
  };
  latest_failures: TelemetryEvent[]; // newest event time first
}
/** The summary of events with device times from `from_ms` on (all when undefined). */
export const telemetrySummary = (model: string, version: string, deviceClass: string, from_ms?: number, signal?: AbortSignal) =>
  ringo<TelemetrySummary>('telemetry/summary', { model, version, device_class: deviceClass || undefined, from_ms }, signal);

/** A schedule of /api/ringo/v1/schedules (continuous training). */
export interface Schedule {
  name: string;
  project: string;
  entry_point: string;
  experiment: string;
  trigger: { type: string; cron?: string; time_zone?: string; metric?: string; signal?: string; path?: string;
    collection?: string; channel?: string; threshold?: number; above?: boolean; check_seconds?: number };
  catch_up: string;
  paused: boolean;
  running: string;
  next_slot?: number;
}
/** One firing of a schedule, or a slot it skipped, with why. */
export interface Firing {
  id: string;
  time: number;
  outcome: string;
  reason: string;
  rule: string;
  observed?: number;
  window: string;
}
export const listSchedules = (signal?: AbortSignal) =>
  request<{ schedules?: Schedule[] }>('GET', '/api/ringo/v1/schedules', undefined, signal).then((r) => r.schedules ?? []);
export const getSchedule = (name: string, signal?: AbortSignal) =>
  request<{ schedule: Schedule; firings?: Firing[] }>('GET', '/api/ringo/v1/schedules/' + encodeURIComponent(name), undefined, signal);
export const scheduleAction = (name: string, action: 'pause' | 'resume' | 'run-now') =>
  request<unknown>('POST', `/api/ringo/v1/schedules/${encodeURIComponent(name)}/${action}`, {});

/** A candidate of a release policy: where a new model version stands, gate by gate. */
export interface Candidate {
  model: string;
  version: number;
  stage: string;
  gates: { name: string; passed: boolean; detail: string }[];
  deployment_id: string;
  step: number;
  since: number;
  note: string;
  updated: number;
}
export interface ReleasePolicy {
  collection: string;
  model: string;
  release: { channel: string; steps: number[]; hold_seconds: number; min_samples: number };
  staging: { channel: string; soak_seconds: number };
}
/** The collection's release policy and candidates; null when it has none. */
export const getReleasePolicy = (collection: string, signal?: AbortSignal) =>
  request<{ policy: ReleasePolicy; candidates?: Candidate[] }>(
    'GET', '/api/ringo/v1/release-policies/' + encodeURIComponent(collection), undefined, signal,
  ).catch((err: Error & { status?: number }) => {
    if (err.status === 404) return null;
    throw err;
  });
export const approveRelease = (collection: string, version: number) =>
  request<unknown>('POST', `/api/ringo/v1/release-policies/${encodeURIComponent(collection)}/approve`, { version });

/** A channel change by hand: promote, rollout or rollback (recorded with the caller as actor). */
export const channelAction = (action: 'promote' | 'rollout' | 'rollback', body: Record<string, unknown>) =>
  request<unknown>('POST', '/api/ringo/v1/channels/' + action, body);

/** An entry of the audit log (/api/ringo/v1/audit): identical changes within a second are one
 * entry with a count. */
export interface AuditEntry {
  time: number;
  last?: number;
  actor: string;
  origin: string;
  method: string;
  route: string;
  path: string;
  target: string;
  status: number;
  count: number;
}
export function listAudit(q: { hours: number; actor?: string; route?: string }, signal?: AbortSignal) {
  const query: Query = {
    since: String(Date.now() - q.hours * 3600 * 1000), limit: '1000', actor: q.actor || undefined, route: q.route || undefined,
  };
  return request<{ entries?: AuditEntry[] }>('GET', '/api/ringo/v1/audit' + queryString(query), undefined, signal).then(
    (r) => r.entries ?? [],
  );
}
