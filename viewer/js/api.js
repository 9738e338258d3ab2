/**
 * The server's API as seen by the viewer: URLs and JSON fetches, nothing else.
 *
 * Errors carry the server's `{"error": ...}` message when it sent one, so the UI can
 * show what went wrong rather than a status code.
 */

const enc = encodeURIComponent;

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const reason = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new ApiError(`${url}: ${reason}`, response.status);
  }
  return body;
}

/** [{name, title_en, title_zh, states: [{name, title_en, title_zh, baseline}]}] */
export function fetchProjects() {
  return getJson('/api/projects');
}

function stateUrl(project, stateName) {
  return `/api/projects/${enc(project)}/states/${enc(stateName)}`;
}

/** URL of a state's GLB: class colours, or change colours against `diffBase` when given. */
export function modelUrl(project, stateName, diffBase = null) {
  const url = `${stateUrl(project, stateName)}/model.glb`;
  return diffBase ? `${url}?diff=${enc(diffBase)}` : url;
}

/**
 * {globalId, ifcClass, predefinedType, name, storey, building, status, attributes, psets, ...};
 * with `diffBase`, also {diffStatus, diffChanges} — and removed elements (ghosts) as they were.
 */
export function fetchElement(project, stateName, globalId, diffBase = null) {
  const url = `${stateUrl(project, stateName)}/elements/${enc(globalId)}`;
  return getJson(diffBase ? `${url}?diff=${enc(diffBase)}` : url);
}

/** GeoJSON FeatureCollection in twin coordinates (metres), `properties.layer` naming the layer. */
export function fetchLayers(project, stateName) {
  return getJson(`${stateUrl(project, stateName)}/layers`);
}

async function sendJson(url, body) {
  const response = await fetch(url, {
    method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(`${url}: ${answer?.error ?? `${response.status} ${response.statusText}`}`, response.status);
  return answer;
}

/** {kinds: [...]}: the engine job kinds the server runs (server/simulations.py). */
export function fetchSimulationKinds() {
  return getJson('/api/simulations');
}

/** {kinds, simulations: {kind: {latest: job|null, latestDone: job+{resultUrl, framesUrl}|null}}} */
export function fetchStateSimulations(project, stateName) {
  return getJson(`${stateUrl(project, stateName)}/simulations`);
}

/** Start an engine run on a state → {id, status, url}. */
export function startJob(project, stateName, kind, params = {}) {
  return sendJson(`${stateUrl(project, stateName)}/jobs`, { kind, params });
}

/** {id, kind, status, progress, message, error, ...} */
export function fetchJob(jobId) {
  return getJson(`/api/jobs/${enc(jobId)}`);
}

/** {engine, metrics: {name: {value, unit, meaning}}, series, frames: {name: {dtype, shape}}, framesUrl} */
export function fetchResult(jobId) {
  return getJson(`/api/jobs/${enc(jobId)}/result`);
}

export function framesUrl(jobId) {
  return `/api/jobs/${enc(jobId)}/frames`;
}

/** TwinDiff JSON of a state against the baseline: {summary: {counts}, added, removed, ...}. */
export function fetchDiff(project, stateName) {
  return getJson(`${stateUrl(project, stateName)}/diff`);
}

/** What `twin info` says of a state: elements, residents, layers counts, site area... */
export function fetchInfo(project, stateName) {
  return getJson(`${stateUrl(project, stateName)}/info`);
}
