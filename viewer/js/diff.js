/**
 * The change legend: with "Highlight changes" on, the proposal is loaded coloured by
 * change against its base (added green, removed as red ghosts, shape/data changes in
 * oranges and yellow, unchanged greyed), and each change status can be shown or hidden.
 * Colours come from the GLB's own legend (scene extras), so legend and model agree.
 */
import { t, onLanguageChange } from './i18n.js';
import { DIFF_STATUSES } from './state.js';

/** Fallback colours, the same as twin/export.py's DIFF_STYLES. */
const DEFAULT_COLOURS = {
  added: '#2fb344', removed: '#e03131', geometry: '#fd7e14', data: '#fcc419',
  'geometry+data': '#d9480f', unchanged: '#d9d9d9',
};

export function diffColours(model) {
  const colours = { ...DEFAULT_COLOURS };
  for (const entry of model?.extras?.legend ?? []) {
    const match = /^diff:(.+)$/.exec(entry.material ?? '');
    if (match && entry.colour) colours[match[1]] = entry.colour;
  }
  return colours;
}

export class DiffLegend {
  /** `onToggle(status, shown)` when a status checkbox flips. */
  constructor(section, onToggle) {
    this.section = section;
    this.title = section.querySelector('.diff-title');
    this.list = section.querySelector('.diff-list');
    this.onToggle = onToggle;
    this.view = null;
    onLanguageChange(() => this.render(this.view));
  }

  /** view: {active, baseTitle, model, shown} or null when changes are not shown. */
  render(view) {
    this.view = view;
    if (!view || !view.active) {
      this.section.hidden = true;
      return;
    }
    this.section.hidden = false;
    if (!view.model?.colouredByChange) {
      this.title.textContent = t('diff.needsProposal');
      this.list.replaceChildren();
      return;
    }
    this.title.textContent = t('diff.title', { base: view.baseTitle });
    const colours = diffColours(view.model);
    this.list.replaceChildren(...DIFF_STATUSES.map((status) => {
      const row = document.createElement('label');
      row.className = 'toggle-row';
      row.dataset.status = status;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = view.shown[status] !== false;
      box.addEventListener('change', () => this.onToggle(status, box.checked));
      const swatch = document.createElement('span');
      swatch.className = status === 'removed' ? 'swatch ghost' : 'swatch';
      swatch.style.background = colours[status];
      const label = document.createElement('span');
      label.className = 'toggle-label';
      label.textContent = t(`diff.${status}`);
      const count = document.createElement('span');
      count.className = 'toggle-count';
      count.textContent = String(view.model.diffCounts[status] ?? 0);
      row.append(box, swatch, label, count);
      return row;
    }));
  }
}
