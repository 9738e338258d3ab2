/**
 * Community Twin viewer: boots the app and wires the modules together.
 *
 * Modules: i18n (labels zh/en), state (view state + URL), api (server), loader (GLB →
 * Model), stage (renderer, camera, viewports), compare (modes, swipe slider), layers and
 * diff (toggles), pick + panel (properties), tree (spatial tree), markers (service
 * points), clock (the one playback clock), simulations (results on the stage: frames,
 * agents, density, network) + simpanel (start runs, status, figures), screening (tour).
 *
 * Hooks on `window` for the browser tests (tests/viewer/) and other automation.
 * Pixel coordinates are canvas CSS pixels from the canvas's top-left corner.
 *   __ready                 Promise: resolves once the first frame of the loaded state(s) is
 *                           on screen, with __stats() of that frame and firstFrameMs (when it
 *                           was on screen, performance.now() ms from the page's start);
 *                           rejects with the loading error.
 *   __readPixels(x,y,w,h)   renders, then reads that block in the same task →
 *                           {width, height, data: [r,g,b,a, ...] rows from the top}.
 *   __setMode(mode)         'single' | 'side' | 'swipe' → Promise, resolves once drawn.
 *   __setStates({single, left, right, diff}) → Promise, resolves once drawn.
 *   __setSwipe(f)           slider at fraction f of the width (left state left of it):
 *                           0 shows only the right state, 1 only the left one.
 *   __setLang(lang)         'zh' | 'en'.
 *   __stats()               {drawCalls, triangles, nodes, elements, frame, mode} of the last frame.
 *   __pickAt(x, y)          pick what is under (x, y) → Promise<GlobalId | null>, resolved once
 *                           the property panel shows the server's answer.
 *   __pickGlobalId(gid)     select an element by GlobalId → Promise<GlobalId | null>, likewise.
 *   __screenOf(gid, side)   {x, y} of the element's box centre as drawn on 'left' | 'right'
 *                           (default 'right'), or null when not loaded or off screen.
 *   __setLayer(key, on), __setDiffStatus(status, on)   the sidebar toggles.
 *   __fitSite()             camera back to the whole community (no animation).
 *   __setTime(t)            playback clock time in seconds (js/clock.js) → the clamped time.
 *   __pause()               stop playback where it is.
 *   __simulationsIdle()     Promise: resolves once no run is being started, polled or loaded.
 *   __runSimulation(kind)   start `kind` on the shown state(s) as the panel's Run button does →
 *                           Promise of the job ids, resolved when their results are loaded.
 *   __playback()            {time, duration, playing, speed, results: [{state, kind, job}],
 *                           slots: {left: [kinds], right: [kinds]}}.
 *   __instance(slot, kind, k)   resident or vehicle k of that result as drawn in 'left' | 'right':
 *                           {x, y, z (twin metres), shown} or null.
 *   __pipeColour(slot, kind, i) [r, g, b] (linear 0-1) of link i's ribbon, or null.
 *   __density(slot, kind, x, y) residents per m² drawn in the heat-map cell holding (x, y).
 *   __flooded(slot, kind)   how many flooding manholes are drawn now.
 *   __viewState()           the shareable view state (what the URL carries).
 *   __setPose(pose)         camera [x, y, z, tx, ty, tz] (world metres), drawn at once.
 *   __tour(n)               screening mode: go to tour step n → Promise, resolves once drawn.
 *
 * Performance marks of the page's start (benchmarks/viewer.py prints their medians):
 * twin:boot, twin:projects, twin:glb-fetched, twin:glb-read, twin:model-built (loader.js),
 * twin:render and twin:rendered (the first frame's draw calls issued).
 */
import { Clock, bindClockBar } from './clock.js';
import { Compare } from './compare.js';
import { DiffLegend } from './diff.js';
import { initialLanguage, setLanguage, onLanguageChange, t, titleOf, language } from './i18n.js';
import { LayerToggles, applyVisibility, defaultLayersShown } from './layers.js';
import { Model } from './loader.js';
import { PropertyPanel } from './panel.js';
import { Picker } from './pick.js';
import { SOUTH_EAST_OBLIQUE, Stage } from './stage.js';
import { MODES, state, update, onChange, readUrl, baselineName, initialView, stateInfo } from './state.js';
import { projects } from './prefetch.js';
import { SpatialTree } from './tree.js';
import { Simulations } from './simulations.js';
import { SimulationPanel } from './simpanel.js';
import { Screening } from './screening.js';
import { writeUrl } from './state.js';

const $ = (selector) => document.querySelector(selector);

let resolveReady;
let rejectReady;
window.__ready = new Promise((resolve, reject) => {
  resolveReady = resolve;
  rejectReady = reject;
});
window.__ready.catch(() => {}); // shown on the page; not an unhandled rejection

// -- language first, so every label below is born in it --------------------------------
state.lang = initialLanguage();
setLanguage(state.lang);

const viewport = $('#viewport');
const stage = new Stage(viewport, $('#scene-canvas'));
const panel = new PropertyPanel($('#properties'), { onClose: () => picker.clear() });
const picker = new Picker(stage, panel);
const layerToggles = new LayerToggles($('#layers-list'), (key, shown) => {
  update({ layersShown: { ...state.layersShown, [key]: shown } });
});
const diffLegend = new DiffLegend($('#diff-section'), (status, shown) => {
  update({ diffShown: { ...state.diffShown, [status]: shown } });
});
const tree = new SpatialTree($('#tree'), (nodes, globalId) => {
  const box = Model.boxOf(nodes);
  if (!box.isEmpty()) stage.fit(box, { margin: 0.7 });
  if (globalId) picker.highlight(globalId);
});
const clock = new Clock();
bindClockBar(clock, $('#clock-bar'));
const simulations = new Simulations(stage, clock, { project: () => state.project?.name });
const simPanel = new SimulationPanel($('#sim-section'), simulations, { project: () => state.project?.name });
clock.onTick((seconds) => {
  state.time = seconds;
  if (!clock.playing) writeUrl(); // the URL keeps where playback was stopped, not every frame
});
const screening = new Screening($('#tour'), {
  show: (patch) => {
    update(patch);
    return shown();
  },
  fit: async () => {
    await fitSite(false);
    update({ camera: stage.pose() });
  },
  simulations,
  clock,
  onStep: (index) => update({ tour: index }),
  preload: (states) => simPanel.setStates(states),
});

/** The states on the stage in the current mode. */
function shownStates() {
  return state.mode === 'single' ? [state.single] : [state.left, state.right];
}

let cameraMovedByVisitor = false;
stage.controls.addEventListener('start', () => {
  cameraMovedByVisitor = true;
});
stage.controls.addEventListener('end', () => update({ camera: stage.pose() }));

const compare = new Compare(stage, viewport, {
  onLoading: (busy) => {
    $('#loading').hidden = !busy;
  },
  onError: (error) => showMessage(`${t('app.error')}: ${error.message}`),
  onModels: () => modelsChanged(),
});

function showMessage(text) {
  const box = $('#message');
  box.textContent = text;
  box.hidden = !text;
}

/** After the models on the stage change: visibility, legend, tree, counts, highlight. */
function modelsChanged() {
  for (const model of compare.shownModels()) applyVisibility(model, state.layersShown, state.diffShown);
  const current = compare.shownModels()[0] ?? null;
  layerToggles.setCounts(current?.layerCounts ?? {});
  layerToggles.setShown(state.layersShown);
  const base = state.mode === 'single' ? baselineName() : state.left;
  diffLegend.render({ active: state.diff, model: current, shown: state.diffShown, baseTitle: titleOf(stateInfo(base)) });
  if (tree.model !== current) {
    tree.model = current;
    tree.render(current?.tree ?? []);
  }
  picker.refresh();
  simulations.attach();
  stage.requestRender();
}

// -- header controls ---------------------------------------------------------------------

function fillStateSelect(select, value) {
  select.replaceChildren(...(state.project?.states ?? []).map((info) => {
    const option = new Option(titleOf(info), info.name);
    option.selected = info.name === value;
    return option;
  }));
}

function refreshControls() {
  for (const button of document.querySelectorAll('[data-mode]')) {
    button.setAttribute('aria-pressed', String(button.dataset.mode === state.mode));
  }
  $('#pick-single').hidden = state.mode !== 'single';
  $('#pick-left').hidden = state.mode === 'single';
  $('#pick-right').hidden = state.mode === 'single';
  fillStateSelect($('#state-single'), state.single);
  fillStateSelect($('#state-left'), state.left);
  fillStateSelect($('#state-right'), state.right);
  $('#diff-toggle').setAttribute('aria-pressed', String(state.diff));
  $('#project-title').textContent = titleOf(state.project) || t('app.title');
  $('#project-title').title = $('#project-title').textContent;
  document.title = `${titleOf(state.project)} · ${t('app.title')}`;
}

for (const button of document.querySelectorAll('[data-mode]')) {
  button.addEventListener('click', () => update({ mode: button.dataset.mode }));
}
$('#state-single').addEventListener('change', (event) => update({ single: event.target.value }));
$('#state-left').addEventListener('change', (event) => update({ left: event.target.value }));
$('#state-right').addEventListener('change', (event) => update({ right: event.target.value }));
$('#diff-toggle').addEventListener('click', () => update({ diff: !state.diff }));
$('#lang-toggle').addEventListener('click', () => update({ lang: language() === 'zh' ? 'en' : 'zh' }));
$('#fullscreen').addEventListener('click', () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen?.();
});
$('#sidebar-toggle').addEventListener('click', () => {
  document.body.classList.toggle('sidebar-hidden');
});
$('#reset-view').addEventListener('click', () => fitSite(true));
$('#screenshot').addEventListener('click', () => {
  const link = document.createElement('a');
  link.href = stage.toPng({
    title: `${titleOf(state.project)} · ${t('app.title')}`,
    captions: Object.fromEntries(stage.shownSlots().map((slot) => [slot, compare.captionOf(slot)])),
  });
  link.download = `${state.project?.name ?? 'community'}-${state.mode}.png`;
  link.click();
});
onLanguageChange(() => {
  refreshControls();
  modelsChanged();
});

// -- picking with the pointer: a click, not the end of a drag ----------------------------
let pressed = null;
stage.canvas.addEventListener('pointerdown', (event) => {
  pressed = { x: event.clientX, y: event.clientY, at: performance.now(), button: event.button };
});
stage.canvas.addEventListener('pointerup', (event) => {
  if (!pressed || pressed.button !== 0) return;
  const moved = Math.hypot(event.clientX - pressed.x, event.clientY - pressed.y);
  const held = performance.now() - pressed.at;
  pressed = null;
  if (moved > 5 || held > 600) return;
  const rect = stage.canvas.getBoundingClientRect();
  picker.pickAt(event.clientX - rect.left, event.clientY - rect.top);
});
window.addEventListener('keydown', (event) => {
  if (event.key === 'Escape') picker.clear();
});

// -- state changes ---------------------------------------------------------------------------
let applying = Promise.resolve();

function fitSite(animate = false) {
  const model = compare.shownModels()[0];
  if (!model) return Promise.resolve();
  return stage.fit(model.siteBox, { direction: SOUTH_EAST_OBLIQUE, animate, margin: 0.98 });
}

onChange((changed) => {
  if (changed.has('lang')) setLanguage(state.lang);
  if (['mode', 'single', 'left', 'right', 'diff'].some((key) => changed.has(key))) {
    refreshControls();
    applying = compare.apply().then(() => {
      simPanel.setStates(shownStates());
      if (changed.has('mode') && !cameraMovedByVisitor) return fitSite(false);
      return undefined;
    }).catch(() => {});
  }
  if (changed.has('layersShown') || changed.has('diffShown')) modelsChanged();
});

// -- hooks -------------------------------------------------------------------------------------

async function shown() {
  await applying;
  stage.renderNow();
  return stage.stats();
}

Object.assign(window, {
  __readPixels: (x, y, width, height) => stage.readPixels(x, y, width, height),
  __setMode: (mode) => {
    if (!MODES.includes(mode)) throw new Error(`mode must be one of ${MODES}, not ${mode}`);
    update({ mode });
    return shown();
  },
  __setStates: (patch) => {
    update(patch);
    return shown();
  },
  __setSwipe: (fraction) => {
    compare.setSwipe(Number(fraction));
    return state.swipe;
  },
  __setLang: (lang) => {
    update({ lang });
    return language();
  },
  __stats: () => stage.stats(),
  __pickAt: (x, y) => picker.pickAt(x, y),
  __pickGlobalId: (globalId) => picker.pickGlobalId(globalId),
  __screenOf: (globalId, side = 'right') => {
    const node = stage.slots[side]?.model?.byGlobalId.get(globalId);
    return node ? stage.screenOf(node, side) : null;
  },
  __setLayer: (key, shown) => {
    update({ layersShown: { ...state.layersShown, [key]: Boolean(shown) } });
    stage.renderNow();
  },
  __setDiffStatus: (status, shown) => {
    update({ diffShown: { ...state.diffShown, [status]: Boolean(shown) } });
    stage.renderNow();
  },
  __fitSite: () => fitSite(false),
  __setTime: (seconds) => clock.setTime(seconds),
  __pause: () => clock.pause(),
  __simulationsIdle: () => settled.then(() => simPanel.idle()),
  __runSimulation: (kind) => simPanel.run(kind),
  __playback: () => ({
    time: clock.time, duration: clock.duration, playing: clock.playing, speed: clock.speed,
    results: [...simulations.results.values()].map(({ state: stateName, kind, job }) => ({ state: stateName, kind, job: job.id })),
    slots: Object.fromEntries(stage.shownSlots().map((slot) => [slot, [...(stage.slots[slot].model?.playback?.keys() ?? [])]])),
  }),
  __instance: (slot, kind, index) => {
    const part = simulations.part(slot, kind, 'Residents') ?? simulations.part(slot, kind, 'Vehicles');
    return part && index < part.count ? part.instance(index) : null;
  },
  __pipeColour: (slot, kind, index) => simulations.part(slot, kind, 'PipeFlow')?.colourOfLink(index) ?? null,
  __density: (slot, kind, x, y) => simulations.part(slot, kind, 'DensityMap')?.densityAt(x, y) ?? null,
  __flooded: (slot, kind) => simulations.part(slot, kind, 'Flooding')?.flooded ?? null,
  __viewState: () => ({
    mode: state.mode, single: state.single, left: state.left, right: state.right, diff: state.diff,
    swipe: state.swipe, lang: state.lang, camera: stage.pose(), time: clock.time, screen: state.screen, tour: state.tour,
  }),
  __setPose: (pose) => {
    stage.setPose(pose);
    cameraMovedByVisitor = true;
    update({ camera: stage.pose() });
    stage.renderNow();
    return stage.pose();
  },
  __tour: (index) => screening.go(index),
});

// -- boot ----------------------------------------------------------------------------------------

async function boot() {
  performance.mark('twin:boot');
  const asked = readUrl();
  const list = await projects; // asked for by prefetch.js as the page started
  performance.mark('twin:projects');
  if (!list.length) throw new Error(t('app.noProjects'));
  const project = list.find((p) => p.name === asked.project) ?? list[0];
  state.project = project;
  Object.assign(state, initialView(asked, project), { layersShown: defaultLayersShown() });
  refreshControls();
  await compare.apply();
  if (asked.camera) {
    stage.setPose(asked.camera);
    cameraMovedByVisitor = true;
  } else {
    await fitSite(false);
  }
  update({ camera: stage.pose() });
  performance.mark('twin:render');
  stage.renderNow();
  performance.mark('twin:rendered');
  settled = afterFirstFrame(asked);
}

let settled = Promise.resolve();

/** What the first frame does not wait for: the simulations, then screening and URL time. */
async function afterFirstFrame(asked) {
  await simPanel.setStates(shownStates()).catch((error) => console.warn(`simulations: ${error.message}`));
  if (asked.screen) {
    state.screen = true;
    await screening.start(asked.tour ?? 0);
    if (asked.camera) {
      stage.setPose(asked.camera);
      update({ camera: stage.pose() });
    }
  }
  if (asked.time !== undefined) {
    clock.pause();
    clock.setTime(asked.time);
  }
  writeUrl();
}

/** Calls `then(ms)` once the frame drawn in this task is on screen, `ms` being performance.now()
 * then. The browser's next frame, whose animation-frame callbacks run first, commits the canvas
 * (a software compositor reads it back, waiting for the GPU to finish drawing it); the callbacks
 * of the frame after run only once that commit is done. */
function whenPresented(then) {
  requestAnimationFrame(() => requestAnimationFrame(() => then(performance.now())));
}

boot().then(
  () => {
    const stats = stage.stats();
    whenPresented((ms) => resolveReady({ ...stats, firstFrameMs: ms }));
  },
  (error) => {
    showMessage(`${t('app.error')}: ${error.message}`);
    $('#loading').hidden = true;
    rejectReady(error);
  },
);
