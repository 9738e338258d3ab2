/**
 * The view state of the app — what is shown, not how — with change notification and
 * a mirror in the URL, so a view can be shared or bookmarked.
 *
 * Modules change it with `update({...})`; listeners registered with `onChange` get the
 * set of keys that changed. The URL query carries project, mode, states, diff, swipe,
 * language, camera (`cam=x,y,z,tx,ty,tz` in model coordinates, metres), playback time
 * (`t=` seconds), and screening mode with its tour step (`screen=1&tour=N`).
 */

export const DIFF_STATUSES = ['added', 'removed', 'geometry', 'data', 'geometry+data', 'unchanged'];
export const MODES = ['single', 'side', 'swipe'];

export const state = {
  project: null,          // {name, title_en, title_zh, states: [...]}
  mode: 'single',
  single: null,           // state shown in the single view
  left: null,             // left state in side-by-side and swipe (usually the baseline)
  right: null,            // right state in side-by-side and swipe (a proposal)
  diff: false,            // colour the proposal by change against its base
  diffShown: Object.fromEntries(DIFF_STATUSES.map((status) => [status, true])),
  layersShown: {},        // layer group → visible (filled by layers.js)
  swipe: 0.5,             // fraction of the width showing the left state
  lang: 'en',
  camera: null,           // [x, y, z, tx, ty, tz] from the URL, applied once
  selected: null,         // GlobalId of the picked element
  time: 0,                // playback clock, seconds (mirrored here by main.js, not via update)
  screen: false,          // screening mode (screening.js)
  tour: 0,                // its tour step
};

const listeners = new Set();

export function onChange(listener) {
  listeners.add(listener);
}

/** Merge `patch` into the state and tell listeners which keys changed. */
export function update(patch) {
  const changed = new Set();
  for (const [key, value] of Object.entries(patch)) {
    if (state[key] !== value) {
      state[key] = value;
      changed.add(key);
    }
  }
  if (changed.size) {
    for (const listener of listeners) listener(changed);
    writeUrl();
  }
  return changed;
}

/** The baseline state of a project (flagged by the server, else the first). */
export function baselineOf(project) {
  const states = project?.states ?? [];
  return (states.find((s) => s.baseline) ?? states[0])?.name ?? null;
}

/** The baseline state of the project shown. */
export function baselineName() {
  return baselineOf(state.project);
}

/** The view the page opens on: what the URL asks for (`readUrl`), within what `project` has. */
export function initialView(asked, project) {
  const names = project.states.map((s) => s.name);
  const known = (name, fallback) => (names.includes(name) ? name : fallback);
  const baseline = baselineOf(project);
  const firstProposal = names.find((name) => name !== baseline) ?? baseline;
  return {
    mode: asked.mode ?? 'single',
    single: known(asked.single, baseline),
    left: known(asked.left, baseline),
    right: known(asked.right, firstProposal),
    diff: asked.diff ?? false,
    swipe: asked.swipe ?? 0.5,
  };
}

/**
 * The models a view puts on the stage: {left, right}, each {stateName, diffBase} or null.
 * single: the chosen state in the right slot (coloured by change against the baseline when
 * asked); side/swipe: the left state (class colours) and the right state (coloured by change
 * against the left one when asked).
 */
export function modelsWanted(view, baseline) {
  const model = (stateName, base) => ({ stateName, diffBase: view.diff && base && base !== stateName ? base : null });
  if (view.mode === 'single') return { left: null, right: model(view.single, baseline) };
  return { left: model(view.left, null), right: model(view.right, view.left) };
}

export function stateInfo(name) {
  return state.project?.states.find((s) => s.name === name) ?? null;
}

/** Read what the URL asks for: the parts of the state that can be shared. */
export function readUrl(search = window.location.search) {
  const query = new URLSearchParams(search);
  const asked = {};
  if (query.get('project')) asked.project = query.get('project');
  if (MODES.includes(query.get('mode'))) asked.mode = query.get('mode');
  for (const key of ['single', 'left', 'right']) if (query.get(key)) asked[key] = query.get(key);
  if (query.has('diff')) asked.diff = query.get('diff') === '1';
  const swipe = Number.parseFloat(query.get('swipe'));
  if (Number.isFinite(swipe)) asked.swipe = Math.min(1, Math.max(0, swipe));
  const camera = (query.get('cam') || '').split(',').map(Number);
  if (camera.length === 6 && camera.every(Number.isFinite)) asked.camera = camera;
  const time = Number.parseFloat(query.get('t'));
  if (Number.isFinite(time) && time >= 0) asked.time = time;
  if (query.get('screen') === '1') asked.screen = true;
  const tour = Number.parseInt(query.get('tour'), 10);
  if (Number.isFinite(tour) && tour >= 0) asked.tour = tour;
  return asked;
}

let urlTimer = 0;

/** Mirror the shareable state in the URL (debounced; replaces, never adds history). */
export function writeUrl() {
  clearTimeout(urlTimer);
  urlTimer = setTimeout(() => {
    const query = new URLSearchParams();
    if (state.project) query.set('project', state.project.name);
    query.set('mode', state.mode);
    if (state.mode === 'single') query.set('single', state.single ?? '');
    else {
      query.set('left', state.left ?? '');
      query.set('right', state.right ?? '');
    }
    if (state.diff) query.set('diff', '1');
    if (state.mode === 'swipe') query.set('swipe', state.swipe.toFixed(3));
    query.set('lang', state.lang);
    if (state.camera) query.set('cam', state.camera.map((v) => v.toFixed(1)).join(','));
    if (state.time > 0) query.set('t', state.time.toFixed(1));
    if (state.screen) {
      query.set('screen', '1');
      query.set('tour', String(state.tour));
    }
    window.history.replaceState(null, '', `${window.location.pathname}?${query}`);
  }, 250);
}
