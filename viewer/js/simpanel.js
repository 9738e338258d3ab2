/**
 * The simulations panel: for each engine the server runs, start a run on the state(s)
 * shown, watch its status and progress, and show its result when it is done — the
 * playback layers on the stage, a legend, and the key figures (before → after in the
 * comparison views).
 *
 * On every change of the shown states it asks the server for the states' latest finished
 * runs and loads them, so results computed earlier (or by someone else) appear by
 * themselves. `idle()` resolves once nothing is being started, polled or loaded.
 */
import { fetchJob, fetchSimulationKinds, fetchStateSimulations, startJob } from './api.js';
import { FLOW_STOPS } from './network.js';
import { DENSITY_STOPS } from './density.js';
import { t, onLanguageChange, language, titleOf } from './i18n.js';
import { stateInfo } from './state.js';

const POLL_MS = 700;
const FINAL = new Set(['done', 'failed', 'cancelled']);

/** Figures shown per engine, in this order, when the result has them. */
export const KEY_METRICS = {
  evacuation: ['total_evacuation_time_s', 't95_s', 'evacuated', 'stuck'],
  traffic: ['mean_travel_time_s', 'mean_delay_s', 'trips_completed', 'max_queue_m'],
  stormwater: ['flooding_volume_m3', 'flooded_nodes', 'peak_outfall_flow_m3s', 'runoff_control_rate'],
};

/** The engine family of a job kind ("evacuation", "traffic", "stormwater") from its name. */
export function engineOf(kind) {
  return Object.keys(KEY_METRICS).find((name) => String(kind).includes(name)) ?? kind;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function formatNumber(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const locale = language() === 'zh' ? 'zh-CN' : 'en';
  return Number(value.toPrecision(4)).toLocaleString(locale, { maximumFractionDigits: 2 });
}

export function metricLabel(name) {
  const key = `metric.${name}`;
  const label = t(key);
  return label === key ? name.replaceAll('_', ' ') : label;
}

/** A metric's unit in the current language (units the table does not know are shown as given). */
export function unitLabel(unit) {
  if (!unit) return '';
  const label = t(`unit.${unit}`);
  return label === `unit.${unit}` ? unit : label;
}

/** The legend of a result's playback layers (its parts, js/simulations.js): resident groups,
 * vehicle types, pipe flow colours, flooding, density. Used by the panel and the tour. */
export function playbackLegend(parts) {
  const legend = el('div', 'sim-legend');
  const swatch = (colour, text) => {
    const item = el('span', 'legend-item');
    const chip = el('span', 'swatch');
    chip.style.background = colour;
    item.append(chip, el('span', '', text));
    return item;
  };
  for (const part of parts) {
    if (part.groups) for (const g of part.groups) legend.append(swatch(g.colour, t(`group.${g.name}`)));
    if (part.types) for (const v of part.types) legend.append(swatch(v.colour, t(`vtype.${v.name}`) === `vtype.${v.name}` ? v.name : t(`vtype.${v.name}`)));
    if (part.axes) {
      legend.append(el('span', 'legend-caption', t('sim.flowRatio')));
      for (const [value, colour] of FLOW_STOPS) legend.append(swatch(colour, `${value}`));
    }
    if (part.points) legend.append(swatch('#1864ab', t('sim.flooding')));
    if (part.counts) {
      legend.append(el('span', 'legend-caption', t('sim.density')));
      for (const [value, rgba] of DENSITY_STOPS) legend.append(swatch(`rgb(${rgba.slice(0, 3)})`, `≥ ${value}`));
    }
  }
  return legend;
}

export class SimulationPanel {
  constructor(root, simulations, { project }) {
    this.root = root;
    this.list = root.querySelector('.sim-list');
    this.simulations = simulations;
    this.project = project; // () → project name
    this.kinds = [];
    this.states = [];
    this.jobs = new Map(); // "state|kind" → latest job JSON
    this.errors = new Map();
    this.pending = new Set();
    this.polling = new Map(); // job id → its watcher's promise
    this.idleWaiters = [];
    simulations.onChange(() => this.render());
    onLanguageChange(() => this.render());
  }

  track(promise) {
    this.pending.add(promise);
    promise.finally(() => {
      this.pending.delete(promise);
      if (!this.pending.size) for (const resolve of this.idleWaiters.splice(0)) resolve();
    }).catch(() => {});
    return promise;
  }

  /** Resolves when nothing is being started, polled or loaded. */
  idle() {
    return this.pending.size ? new Promise((resolve) => this.idleWaiters.push(resolve)) : Promise.resolve();
  }

  /** The states shown changed: fetch their latest runs and load the finished ones. */
  setStates(states) {
    this.states = [...new Set(states.filter(Boolean))];
    return this.track((async () => {
      if (!this.kinds.length) this.kinds = (await fetchSimulationKinds()).kinds;
      const project = this.project();
      await Promise.all(this.states.map(async (stateName) => {
        const answer = await fetchStateSimulations(project, stateName);
        for (const [kind, { latest, latestDone }] of Object.entries(answer.simulations)) {
          if (latest) this.jobs.set(`${stateName}|${kind}`, latest);
          if (latest && !FINAL.has(latest.status)) this.poll(stateName, kind, latest.id);
          if (latestDone) await this.loadResult(stateName, kind, latestDone);
        }
      }));
      this.simulations.attach();
      this.render();
    })());
  }

  async loadResult(stateName, kind, job) {
    try {
      await this.simulations.load(stateName, kind, job);
      this.errors.delete(`${stateName}|${kind}`);
    } catch (error) {
      this.errors.set(`${stateName}|${kind}`, error.message);
    }
  }

  /** Start `kind` on every shown state; returns the job ids. */
  run(kind) {
    return this.track(Promise.all(this.states.map(async (stateName) => {
      const key = `${stateName}|${kind}`;
      try {
        const job = await startJob(this.project(), stateName, kind);
        this.jobs.set(key, { id: job.id, kind, status: job.status, progress: 0, message: '' });
        this.errors.delete(key);
        this.render();
        await this.poll(stateName, kind, job.id);
        return job.id;
      } catch (error) {
        this.errors.set(key, error.message);
        this.render();
        return null;
      }
    })));
  }

  poll(stateName, kind, jobId) {
    const key = `${stateName}|${kind}`;
    if (this.polling.has(jobId)) return this.polling.get(jobId); // one watcher per job
    const watching = this.track(new Promise((resolve) => {
      const check = async () => {
        try {
          const job = await fetchJob(jobId);
          this.jobs.set(key, job);
          this.render();
          if (!FINAL.has(job.status)) {
            setTimeout(check, POLL_MS);
            return;
          }
          if (job.status === 'done') await this.loadResult(stateName, kind, job);
        } catch (error) {
          this.errors.set(key, error.message);
        }
        this.render();
        this.polling.delete(jobId);
        resolve();
      };
      check();
    }));
    this.polling.set(jobId, watching);
    return watching;
  }

  statusText(job) {
    if (!job) return t('sim.status.none');
    if (job.status === 'running') return `${t('sim.status.running')} ${Math.round((job.progress ?? 0) * 100)}%`;
    if (job.status === 'failed') return `${t('sim.status.failed')}: ${job.error ?? ''}`;
    return t(`sim.status.${job.status}`);
  }

  render() {
    if (!this.list) return;
    this.root.hidden = !this.kinds.length;
    this.list.replaceChildren(...this.kinds.map((kind) => this.row(kind)));
  }

  row(kind) {
    const engine = engineOf(kind);
    const row = el('div', 'sim-row');
    row.dataset.kind = kind;
    const head = el('div', 'sim-head');
    const label = t(`sim.kind.${engine}`);
    head.append(el('span', 'sim-name', label === `sim.kind.${engine}` ? kind : label));
    const busy = this.states.some((s) => {
      const job = this.jobs.get(`${s}|${kind}`);
      return job && !FINAL.has(job.status);
    });
    const run = el('button', 'sim-run', busy ? t('sim.running') : t('sim.run'));
    run.type = 'button';
    run.disabled = busy;
    run.addEventListener('click', () => this.run(kind));
    head.append(run);
    row.append(head);
    const loaded = this.states.map((s) => this.simulations.results.get(`${s}|${kind}`)).filter(Boolean);
    for (const stateName of this.states) {
      const key = `${stateName}|${kind}`;
      const status = el('div', 'sim-status');
      status.dataset.state = stateName;
      status.dataset.status = this.jobs.get(key)?.status ?? 'none';
      const error = this.errors.get(key);
      status.textContent = `${titleOf(stateInfo(stateName))}: ${error ? `${t('sim.status.failed')}: ${error}` : this.statusText(this.jobs.get(key))}`;
      row.append(status);
    }
    if (loaded.length) {
      const toggle = el('label', 'toggle-row sim-show');
      const box = el('input');
      box.type = 'checkbox';
      box.checked = !this.simulations.hidden.has(kind);
      box.addEventListener('change', () => this.simulations.setShown(kind, box.checked));
      toggle.append(box, el('span', 'toggle-label', t('sim.show')));
      row.append(toggle, this.legend(loaded[0]), this.figures(kind, engine));
    }
    return row;
  }

  legend(entry) {
    const model = this.simulations.shownModels().find((m) => m.stateName === entry.state);
    return playbackLegend(model?.playback?.get(entry.kind)?.parts ?? []);
  }

  /** Key figures: one column per shown state (before → after in the comparison views). */
  figures(kind, engine) {
    const entries = this.states.map((s) => this.simulations.results.get(`${s}|${kind}`));
    const first = entries.find(Boolean);
    const names = (KEY_METRICS[engine] ?? []).filter((name) => first.metrics[name]);
    if (!names.length) names.push(...Object.keys(first.metrics).slice(0, 4));
    const table = el('table', 'props sim-figures');
    const body = el('tbody');
    for (const name of names) {
      const row = el('tr');
      row.dataset.metric = name;
      const unit = unitLabel(first.metrics[name].unit);
      row.append(el('th', '', `${metricLabel(name)}${unit ? ` (${unit})` : ''}`));
      const values = entries.map((entry) => formatNumber(entry?.metrics[name]?.value));
      row.append(el('td', '', values.join(' → ')));
      body.append(row);
    }
    table.append(body);
    return table;
  }
}
