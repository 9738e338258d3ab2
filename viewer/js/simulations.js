/**
 * Simulation results on the stage: loads a finished job's frames once, builds its
 * playback layers (residents + density, vehicles, pipe flow + flooding) under the model
 * of the state it was run on, and moves them all with the one clock — so in side-by-side
 * and swipe views, before and after play in step.
 *
 * Results are kept per (state, engine kind), the latest loaded one winning; every model
 * showing that state (plain or coloured by change) gets its own meshes. The clock's
 * duration is the longest result shown.
 */
import * as THREE from 'three';
import { SPEEDS } from './clock.js';
import { fetchFrames } from './frames.js';
import { fetchLayers, fetchResult, framesUrl } from './api.js';
import { Residents, Vehicles } from './agents.js';
import { DensityMap } from './density.js';
import { Flooding, PipeFlow } from './network.js';

/** The playback layers a result's frames call for. */
export function buildParts(entry) {
  const { frames } = entry;
  const parts = [];
  if (frames.has('positions_xy_m')) {
    if (frames.has('vtype') || frames.has('heading_rad')) parts.push(new Vehicles(frames));
    else parts.push(new Residents(frames), new DensityMap(frames));
  }
  if (frames.has('link_flow_ratio') && entry.layers) parts.push(new PipeFlow(frames, entry.layers));
  if (frames.has('node_flooding_m3s') && entry.layers) parts.push(new Flooding(frames, entry.layers));
  return parts;
}

function needsLayers(frames) {
  return frames.has('link_flow_ratio') || frames.has('node_flooding_m3s');
}

export class Simulations {
  constructor(stage, clock, { project }) {
    this.stage = stage;
    this.clock = clock;
    this.project = project; // () → project name
    this.results = new Map(); // "state|kind" → {state, kind, job, frames, metrics, engine, layers}
    this.layerRequests = new Map();
    this.hidden = new Set(); // kinds the visitor switched off
    this.scale = 1;
    this.listeners = new Set();
    clock.onTick((t) => this.update(t));
    stage.controls.addEventListener('change', () => this.rescale());
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  emit() {
    for (const listener of this.listeners) listener(this);
  }

  layersOf(stateName) {
    if (!this.layerRequests.has(stateName)) {
      const request = fetchLayers(this.project(), stateName);
      request.catch(() => this.layerRequests.delete(stateName));
      this.layerRequests.set(stateName, request);
    }
    return this.layerRequests.get(stateName);
  }

  /** Load a done job's result for `stateName` (no-op when that job is already loaded). */
  async load(stateName, kind, job) {
    const key = `${stateName}|${kind}`;
    const loaded = this.results.get(key);
    if (loaded?.job.id === job.id) return loaded;
    const [frames, result] = await Promise.all([fetchFrames(job.framesUrl ?? framesUrl(job.id)), fetchResult(job.id)]);
    const layers = needsLayers(frames) ? await this.layersOf(stateName) : null;
    const entry = { state: stateName, kind, job, frames, metrics: result.metrics ?? {}, engine: result.engine, layers };
    this.results.set(key, entry);
    this.attach();
    this.emit();
    return entry;
  }

  entriesOf(stateName) {
    return [...this.results.values()].filter((entry) => entry.state === stateName);
  }

  shownModels() {
    return this.stage.shownSlots().map((slot) => this.stage.slots[slot].model).filter(Boolean);
  }

  /** Give every shown model the playback meshes of its state's results; the clock's length is
   * the longest result shown (and not switched off). */
  attach() {
    let duration = 0;
    for (const model of this.shownModels()) {
      model.playback ??= new Map();
      for (const entry of this.entriesOf(model.stateName)) {
        if (!this.hidden.has(entry.kind)) duration = Math.max(duration, entry.frames.duration);
        const current = model.playback.get(entry.kind);
        if (current?.jobId === entry.job.id) continue;
        if (current) this.detach(model, entry.kind);
        const parts = buildParts(entry);
        const group = new THREE.Group();
        group.name = `playback ${entry.kind}`;
        group.userData = { role: 'playback', kind: entry.kind };
        for (const part of parts) group.add(part.mesh);
        model.twinRoot.add(group);
        group.updateMatrixWorld(true);
        model.playback.set(entry.kind, { jobId: entry.job.id, parts, group, entry });
      }
    }
    if (duration !== this.clock.duration && !this.clock.playing) {
      // new results: a speed that plays them whole in about a minute (8 h of rain → 600×)
      this.clock.speed = SPEEDS.find((value) => value >= duration / 60) ?? SPEEDS[SPEEDS.length - 1];
    }
    this.clock.setDuration(duration); // notifies → update
    this.update(this.clock.time);
  }

  detach(model, kind) {
    const current = model.playback?.get(kind);
    if (!current) return;
    model.twinRoot.remove(current.group);
    for (const part of current.parts) part.dispose();
    model.playback.delete(kind);
  }

  /** Show the results of `kind` only (null: none); the others are hidden, not unloaded. */
  showOnly(kind) {
    this.hidden = new Set([...this.results.values()].map((entry) => entry.kind).filter((other) => other !== kind));
    this.attach();
    this.emit();
  }

  setShown(kind, shown) {
    if (shown) this.hidden.delete(kind);
    else this.hidden.add(kind);
    this.attach();
    this.emit();
  }

  update(t) {
    for (const model of this.shownModels()) {
      for (const [kind, playback] of model.playback ?? []) {
        playback.group.visible = !this.hidden.has(kind);
        if (playback.group.visible) for (const part of playback.parts) part.update(t, this.scale);
      }
    }
    this.stage.requestRender();
  }

  /** Figures grow when the camera is far, so residents stay visible in the whole-site view. */
  rescale() {
    const distance = this.stage.camera.position.distanceTo(this.stage.controls.target);
    const scale = Math.min(8, Math.max(1, distance / 250));
    if (Math.abs(scale / this.scale - 1) > 0.15) {
      this.scale = scale;
      if (this.results.size) this.update(this.clock.time);
    }
  }

  /** The playback part of `kind` shown in `slot` whose class is `type` (e.g. Residents). */
  part(slot, kind, type) {
    const model = this.stage.slots[slot]?.model;
    return model?.playback?.get(kind)?.parts.find((part) => part.constructor.name === type) ?? null;
  }
}
