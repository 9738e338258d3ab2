/**
 * Compare modes: which state each side of the stage shows, and the things drawn over the
 * canvas that go with a mode — the state names over each view, the side-by-side divider
 * and the swipe slider (drag it, use the arrow keys, or call `window.__setSwipe(f)`).
 *
 * single: the chosen state (coloured by change against the baseline when asked);
 * side/swipe: left state (class colours) against right state (coloured by change against
 * the left one when asked). Models are loaded once per (side, URL) and kept.
 */
import { modelUrl, fetchLayers } from './api.js';
import { t, titleOf, onLanguageChange } from './i18n.js';
import { loadModel } from './loader.js';
import { addServiceMarkers } from './markers.js';
import { state, update, baselineName, modelsWanted, stateInfo } from './state.js';

export class Compare {
  constructor(stage, overlay, { onModels, onLoading, onError }) {
    this.stage = stage;
    this.overlay = overlay;
    this.onModels = onModels;
    this.onLoading = onLoading;
    this.onError = onError;
    this.models = new Map(); // `${slot}|${url}` → Promise<Model>
    this.generation = 0;
    this.labels = { left: overlay.querySelector('.view-label.left'), right: overlay.querySelector('.view-label.right') };
    this.divider = overlay.querySelector('.side-divider');
    this.handle = overlay.querySelector('.swipe-handle');
    this.bindHandle();
    stage.onRender(() => this.placeOverlays());
    onLanguageChange(() => this.placeOverlays());
  }

  /** What each slot should show: {stateName, diffBase} or null. */
  wanted() {
    return modelsWanted(state, baselineName());
  }

  model(slot, want) {
    const url = modelUrl(state.project.name, want.stateName, want.diffBase);
    const key = `${slot}|${url}`;
    if (!this.models.has(key)) {
      const loading = loadModel(url, { stateName: want.stateName, diffBase: want.diffBase });
      loading.catch(() => this.models.delete(key)); // let a later attempt retry
      loading.then((model) => this.addMarkers(model)).catch(() => {});
      this.models.set(key, loading);
    }
    return this.models.get(key);
  }

  /** Service-point pins come from the layers API; a model shows without them until they come. */
  async addMarkers(model) {
    try {
      const layers = await fetchLayers(state.project.name, model.stateName);
      if (addServiceMarkers(model, layers)) this.onModels?.({ markersOnly: true });
    } catch (error) {
      console.warn(`service points of ${model.stateName}: ${error.message}`);
    }
  }

  /** Load what the state asks for and put it on the stage; resolves when shown. */
  async apply() {
    const generation = ++this.generation;
    const want = this.wanted();
    this.onLoading?.(true);
    try {
      const [left, right] = await Promise.all([
        want.left ? this.model('left', want.left) : null,
        want.right ? this.model('right', want.right) : null,
      ]);
      if (generation !== this.generation) return false; // a newer choice overtook this one
      this.stage.setMode(state.mode);
      this.stage.setModel('left', left);
      this.stage.setModel('right', right);
      this.stage.setSwipe(state.swipe);
      this.onModels?.({ left, right });
      this.stage.requestRender(); // callers that need the frame in this task render it (main.js shown())
      return true;
    } catch (error) {
      if (generation === this.generation) this.onError?.(error);
      throw error;
    } finally {
      if (generation === this.generation) this.onLoading?.(false);
    }
  }

  /** The models on the stage now, right (the one being looked at) first. */
  shownModels() {
    return this.stage.shownSlots().map((slot) => this.stage.slots[slot].model).filter(Boolean).reverse();
  }

  setSwipe(fraction) {
    update({ swipe: Math.min(1, Math.max(0, fraction)) });
    this.stage.setSwipe(state.swipe);
    this.stage.renderNow();
    this.placeOverlays();
  }

  bindHandle() {
    const moveTo = (event) => {
      const rect = this.stage.viewport.getBoundingClientRect();
      this.setSwipe((event.clientX - rect.left) / rect.width);
    };
    this.handle.addEventListener('pointerdown', (event) => {
      this.handle.setPointerCapture(event.pointerId);
      this.dragging = true;
      event.preventDefault();
    });
    this.handle.addEventListener('pointermove', (event) => {
      if (this.dragging) moveTo(event);
    });
    const stop = () => {
      this.dragging = false;
    };
    this.handle.addEventListener('pointerup', stop);
    this.handle.addEventListener('pointercancel', stop);
    this.handle.addEventListener('keydown', (event) => {
      const step = event.shiftKey ? 0.01 : 0.05;
      if (event.key === 'ArrowLeft') this.setSwipe(state.swipe - step);
      else if (event.key === 'ArrowRight') this.setSwipe(state.swipe + step);
      else return;
      event.preventDefault();
    });
  }

  /** A view's caption: the state's name and, when it is coloured by change, against what —
   * so that a screenshot says what it shows. */
  caption(label, title, slot) {
    const parts = this.captionOf(slot, title);
    const name = document.createElement('span');
    name.className = 'view-title';
    name.textContent = parts.title;
    label.replaceChildren(name);
    if (parts.note) {
      const note = document.createElement('span');
      note.className = 'view-note';
      note.textContent = parts.note;
      label.append(note);
    }
  }

  /** {title, note} of the caption over `slot` (note: what the colours mean, or ''). */
  captionOf(slot, title = titleOf(stateInfo(slot === 'left' ? state.left : state.mode === 'single' ? state.single : state.right))) {
    const model = this.stage.slots[slot].model;
    const note = model?.colouredByChange ? t('view.changesSince', { base: titleOf(stateInfo(model.diffBase)) }) : '';
    return { title, note };
  }

  /** Labels, divider and slider where the current mode draws each state. */
  placeOverlays() {
    const { mode } = state;
    const width = this.stage.width;
    const leftTitle = titleOf(stateInfo(state.left));
    const rightTitle = titleOf(stateInfo(mode === 'single' ? state.single : state.right));
    this.labels.left.hidden = mode === 'single' || (mode === 'swipe' && state.swipe < 0.02);
    this.labels.right.hidden = mode === 'swipe' && state.swipe > 0.98;
    this.caption(this.labels.left, leftTitle, 'left');
    this.caption(this.labels.right, rightTitle, 'right');
    this.labels.right.classList.toggle('alone', mode === 'single');
    const place = { single: ['12px', 'auto'], side: [`${Math.floor(width / 2) + 12}px`, 'auto'], swipe: ['auto', '12px'] }[mode];
    [this.labels.right.style.left, this.labels.right.style.right] = place;
    this.divider.hidden = mode !== 'side';
    this.handle.hidden = mode !== 'swipe';
    if (mode === 'swipe') {
      this.handle.style.left = `${state.swipe * width}px`;
      this.handle.setAttribute('aria-valuenow', String(Math.round(state.swipe * 100)));
      this.handle.title = t('swipe.handle');
    }
  }
}
