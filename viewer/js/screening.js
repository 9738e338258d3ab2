/**
 * Screening mode (`?screen=1`): the viewer for a public consultation on a large screen —
 * full window, large type, Chinese/English switch, and a guided tour instead of the
 * designer's controls: the community today, before/after, what changes, then each
 * simulation both states have results for, playing side by side on the one clock.
 *
 * The tour's texts are built from the project's own figures (twin info, the diff against
 * the baseline, the simulations' key metrics) in the current language; the step is in the
 * URL (`tour=N`), so a screening can be bookmarked at any step. Only Back / Next, the
 * language, full screen, overview and the image button stay on screen.
 */
import { fetchDiff, fetchInfo } from './api.js';
import { SPEEDS } from './clock.js';
import { t, titleOf, onLanguageChange } from './i18n.js';
import { diffColours } from './diff.js';
import { KEY_METRICS, engineOf, formatNumber, metricLabel, playbackLegend, unitLabel } from './simpanel.js';
import { DIFF_STATUSES, state, baselineName, stateInfo } from './state.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export class Screening {
  /**
   * card: the tour's box; show(patch) → Promise (view state applied and drawn);
   * fit() → Promise (camera on the whole site); simulations, clock: playback;
   * preload(states) → Promise (the states' finished results loaded).
   */
  constructor(card, { show, fit, simulations, clock, onStep, preload }) {
    this.card = card;
    this.preload = preload;
    this.show = show;
    this.fit = fit;
    this.simulations = simulations;
    this.clock = clock;
    this.onStep = onStep;
    this.steps = [];
    this.index = 0;
    this.facts = {};
    this.active = false;
    onLanguageChange(() => this.render());
    window.addEventListener('keydown', (event) => {
      if (!this.active) return;
      if (event.key === 'ArrowRight' || event.key === 'PageDown') this.go(this.index + 1);
      else if (event.key === 'ArrowLeft' || event.key === 'PageUp') this.go(this.index - 1);
    });
  }

  /** Enter screening mode at step `index`. */
  async start(index = 0) {
    this.active = true;
    document.documentElement.classList.add('screening');
    this.card.hidden = false;
    await this.gatherFacts();
    this.steps = this.buildSteps();
    return this.go(index);
  }

  async gatherFacts() {
    const project = state.project.name;
    const baseline = baselineName();
    const proposal = state.project.states.find((s) => s.name !== baseline)?.name ?? baseline;
    const [info, diff] = await Promise.all([
      fetchInfo(project, baseline).catch(() => null),
      proposal !== baseline ? fetchDiff(project, proposal).catch(() => null) : null,
    ]);
    this.facts = { baseline, proposal, info, diff };
    await this.preload?.([baseline, proposal]);
  }

  buildSteps() {
    const { baseline, proposal } = this.facts;
    const steps = [
      { key: 'overview', patch: { mode: 'single', single: baseline, diff: false } },
      { key: 'compare', patch: { mode: 'swipe', left: baseline, right: proposal, diff: false, swipe: 0.5 } },
      { key: 'changes', patch: { mode: 'single', single: proposal, diff: true } },
    ];
    const kinds = new Set([...this.simulations.results.values()].map((entry) => entry.kind));
    for (const kind of [...kinds].sort()) {
      const before = this.simulations.results.get(`${baseline}|${kind}`);
      const after = this.simulations.results.get(`${proposal}|${kind}`);
      if (!before && !after) continue;
      steps.push({ key: 'sim', kind, play: true,
        patch: before && after ? { mode: 'side', left: baseline, right: proposal, diff: false }
          : { mode: 'single', single: (after ?? before).state, diff: false } });
    }
    steps.push({ key: 'end', patch: { mode: 'swipe', left: baseline, right: proposal, diff: false, swipe: 0.5 } });
    return steps;
  }

  async go(index) {
    if (!this.steps.length) return;
    this.index = Math.min(this.steps.length - 1, Math.max(0, Number(index) || 0));
    const step = this.steps[this.index];
    this.clock.pause();
    this.render();
    this.onStep?.(this.index);
    this.simulations.showOnly(step.kind ?? null); // one engine's playback per step, none before
    await this.show(step.patch);
    await this.fit();
    if (step === this.steps[this.index]) this.render(); // legends of what is now on the stage
    if (step.play) {
      // about 20 s of screen time for the whole run
      const runs = [...this.simulations.results.values()].filter((entry) => entry.kind === step.kind);
      const length = Math.max(...runs.map((entry) => entry.frames.duration), 0);
      const speed = SPEEDS.find((value) => value >= length / 20) ?? SPEEDS[SPEEDS.length - 1];
      this.clock.setSpeed(speed);
      this.clock.setTime(0);
      this.clock.play();
    }
  }

  text(step) {
    const { info, diff, baseline, proposal } = this.facts;
    const before = titleOf(stateInfo(baseline));
    const after = titleOf(stateInfo(proposal));
    if (step.key === 'overview') {
      return [t('tour.overview.title'), t('tour.overview.body', {
        buildings: info?.layers?.buildings ?? '—',
        residents: info?.residents != null ? formatNumber(info.residents) : '—',
        hectares: info?.site_area_m2 != null ? formatNumber(info.site_area_m2 / 10000) : '—',
      })];
    }
    if (step.key === 'compare') return [t('tour.compare.title'), t('tour.compare.body', { before, after })];
    if (step.key === 'changes') {
      const counts = diff?.summary?.counts ?? {};
      const changed = (counts.geometry ?? 0) + (counts.data ?? 0) + (counts['geometry+data'] ?? 0);
      return [t('tour.changes.title'), t('tour.changes.body', {
        added: counts.added ?? '—', removed: counts.removed ?? '—', changed,
      }), this.changeLegend()];
    }
    if (step.key === 'sim') {
      const engine = engineOf(step.kind);
      const name = t(`sim.kind.${engine}`);
      const parts = this.simulations.shownModels().map((model) => model.playback?.get(step.kind)?.parts).find(Boolean);
      return [t('tour.sim.title', { name: name === `sim.kind.${engine}` ? step.kind : name }),
        t('tour.sim.body', { before, after }), this.figures(step.kind, engine), playbackLegend(parts ?? [])];
    }
    return [t('tour.end.title'), t('tour.end.body')];
  }

  /** What the change colours mean (the stage shows the proposal coloured by change). */
  changeLegend() {
    const colours = diffColours(this.simulations.shownModels().find((model) => model.colouredByChange));
    const legend = el('div', 'sim-legend tour-legend');
    for (const status of DIFF_STATUSES) {
      const item = el('span', 'legend-item');
      item.dataset.status = status;
      const chip = el('span', status === 'removed' ? 'swatch ghost' : 'swatch');
      chip.style.background = colours[status];
      item.append(chip, el('span', '', t(`diff.${status}`)));
      legend.append(item);
    }
    return legend;
  }

  /** The engine's key figures, before → after. */
  figures(kind, engine) {
    const { baseline, proposal } = this.facts;
    const before = this.simulations.results.get(`${baseline}|${kind}`);
    const after = this.simulations.results.get(`${proposal}|${kind}`);
    const any = after ?? before;
    const names = (KEY_METRICS[engine] ?? Object.keys(any.metrics)).filter((name) => any.metrics[name]).slice(0, 3);
    const list = el('ul', 'tour-figures');
    for (const name of names) {
      const unit = unitLabel(any.metrics[name].unit);
      const item = el('li');
      item.dataset.metric = name;
      item.append(el('span', 'tour-figure-name', `${metricLabel(name)}: `),
        el('strong', '', `${formatNumber(before?.metrics[name]?.value)} → ${formatNumber(after?.metrics[name]?.value)}${unit ? ` ${unit}` : ''}`));
      list.append(item);
    }
    return list;
  }

  render() {
    if (!this.active || !this.steps.length) return;
    const step = this.steps[this.index];
    const [title, body, ...extras] = this.text(step);
    const counter = el('div', 'tour-step', t('tour.step', { n: this.index + 1, total: this.steps.length }));
    const heading = el('h2', 'tour-title', title);
    const paragraph = el('p', 'tour-body', body);
    const buttons = el('div', 'tour-buttons');
    const back = el('button', 'tour-back', `◀ ${t('tour.back')}`);
    back.type = 'button';
    back.disabled = this.index === 0;
    back.addEventListener('click', () => this.go(this.index - 1));
    const last = this.index === this.steps.length - 1;
    const next = el('button', 'tour-next', last ? `↺ ${t('tour.again')}` : `${t('tour.next')} ▶`);
    next.type = 'button';
    next.addEventListener('click', () => this.go(last ? 0 : this.index + 1));
    buttons.append(back, next);
    this.card.dataset.step = step.key;
    this.card.dataset.mode = step.patch.mode;
    this.card.replaceChildren(counter, heading, paragraph, ...extras.filter((extra) => extra?.childElementCount), buttons);
  }
}
