/**
 * Layer groups: which toggle an element belongs to (by IFC class, predefined type and
 * whether it sits in a building), the toggles themselves, and the visibility rule that
 * combines layer toggles with the change-status toggles.
 *
 * The groups follow the twin's simulation layers (twin/layers.py) at the grain a
 * visitor thinks in: buildings, roads, storm drainage, green space and sponge (LID)
 * facilities, parking, service points, the surrounding city, and the rest.
 */
import { rebatch } from './batch.js';
import { t, onLanguageChange } from './i18n.js';

export const LAYER_GROUPS = [
  { key: 'buildings', colour: '#e6dccb' },
  { key: 'roads', colour: '#4a4d52' },
  { key: 'green', colour: '#6aa84f' },
  { key: 'parking', colour: '#8a9bb0' },
  { key: 'pipes', colour: '#2f7fd1' },
  { key: 'service', colour: '#7048e8' },
  { key: 'other', colour: '#a7a9ac' },
  { key: 'context', colour: '#d9d4cc' },
];

const ROAD_CLASSES = new Set(['IfcPavement', 'IfcRoad', 'IfcRoadPart', 'IfcCourse', 'IfcKerb',
  'IfcSign', 'IfcSignal']);
const DRAINAGE_CLASSES = new Set(['IfcPipeSegment', 'IfcPipeFitting', 'IfcDistributionChamberElement',
  'IfcTank', 'IfcInterceptor', 'IfcFlowTerminal', 'IfcWasteTerminal', 'IfcStackTerminal']);

/** The layer group of a node, from its glTF extras (three.js userData). */
export function layerGroupOf(extras) {
  if (extras.role === 'context') return 'context';
  if (extras.role === 'service-marker') return 'service';
  const ifcClass = extras.ifcClass;
  const type = extras.predefinedType;
  if (ROAD_CLASSES.has(ifcClass) || (ifcClass === 'IfcSlab' && type === 'PAVING')) return 'roads';
  if (DRAINAGE_CLASSES.has(ifcClass)) return 'pipes';
  // Green roofs are sponge facilities (LID) as much as rain gardens are.
  if (ifcClass === 'IfcGeographicElement' || (ifcClass === 'IfcCovering' && type === 'ROOFING')
      || extras.role === 'body') return 'green';
  if (ifcClass === 'IfcSpace' && type === 'PARKING') return 'parking';
  if (extras.building) return 'buildings';
  return 'other';
}

export function defaultLayersShown() {
  // Pipes lie under the roads and green: shown when the visitor asks for them.
  return Object.fromEntries(LAYER_GROUPS.map(({ key }) => [key, key !== 'pipes']));
}

/**
 * Show or hide every tagged node of `model`: visible when its layer group is on and,
 * in a model coloured by change, when its change status is on.
 */
export function applyVisibility(model, layersShown, diffShown) {
  if (!model) return;
  const byChange = model.colouredByChange;
  const key = JSON.stringify([layersShown, byChange ? diffShown : null]);
  if (key === model.visibilityKey) return;
  model.visibilityKey = key;
  for (const node of model.tagged) {
    const { layerGroup, diffStatus } = node.userData;
    let visible = layersShown[layerGroup] !== false;
    if (visible && byChange && diffStatus) visible = diffShown[diffStatus] !== false;
    node.visible = visible;
  }
  rebatch(model);
}

/**
 * The layer toggles: one large checkbox per group with its colour and element count.
 * `onToggle(key, shown)` is called when the visitor flips one.
 */
export class LayerToggles {
  constructor(list, onToggle) {
    this.list = list;
    this.onToggle = onToggle;
    this.counts = {};
    this.shown = {};
    onLanguageChange(() => this.render());
  }

  setCounts(counts) {
    this.counts = counts;
    this.render();
  }

  setShown(shown) {
    this.shown = shown;
    this.render();
  }

  render() {
    this.list.replaceChildren(...LAYER_GROUPS.map(({ key, colour }) => {
      const count = this.counts[key] ?? 0;
      const row = document.createElement('label');
      row.className = 'toggle-row';
      row.dataset.layer = key;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = this.shown[key] !== false;
      box.disabled = count === 0;
      box.addEventListener('change', () => this.onToggle(key, box.checked));
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colour;
      const label = document.createElement('span');
      label.className = 'toggle-label';
      label.textContent = t(`layer.${key}`);
      const number = document.createElement('span');
      number.className = 'toggle-count';
      number.textContent = count ? String(count) : t('layer.unavailable');
      row.append(box, swatch, label, number);
      return row;
    }));
  }
}
