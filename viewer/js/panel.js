/**
 * The property panel: what the server knows about the picked element — type, name,
 * storey, building, renovation status, change, direct attributes and property sets
 * (one table per set). Re-renders itself when the language changes.
 */
import { t, className, onLanguageChange, language } from './i18n.js';

function formatValue(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? t('value.yes') : t('value.no');
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return value.toLocaleString(language() === 'zh' ? 'zh-CN' : 'en');
    return Number(value.toPrecision(6)).toLocaleString(language() === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: 3 });
  }
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function table(rows, caption) {
  const tableNode = el('table', 'props');
  if (caption) {
    const head = el('caption', 'pset-name', caption);
    tableNode.append(head);
  }
  const body = el('tbody');
  for (const [key, value] of rows) {
    const row = el('tr');
    row.append(el('th', '', key), el('td', '', formatValue(value)));
    body.append(row);
  }
  tableNode.append(body);
  return tableNode;
}

/** Rows "set › property: old → new" from the server's diffChanges of an element. */
function changeRows(changes) {
  if (!changes) return [];
  const rows = [];
  const pair = (change) => `${formatValue(change?.old)} → ${formatValue(change?.new)}`;
  const isPair = (value) => value && typeof value === 'object' && ('old' in value || 'new' in value);
  for (const [group, content] of Object.entries(changes)) {
    if (group === 'status' || group === 'ifc_class' || !content) continue;
    if (group === 'geometry') {
      rows.push([t('panel.geometryChange'), typeof content === 'object' && Number.isFinite(content.moved_m) && content.moved_m > 0
        ? `${formatValue(content.moved_m)} m` : '✓']);
      continue;
    }
    for (const [key, value] of Object.entries(content)) {
      if (isPair(value)) rows.push([key, pair(value)]);
      else if (value && typeof value === 'object') {
        for (const [property, change] of Object.entries(value)) rows.push([`${key} › ${property}`, pair(change)]);
      }
    }
  }
  return rows;
}

export class PropertyPanel {
  /** `root` is the panel element; `onClose()` is called when the visitor closes it. */
  constructor(root, { onClose }) {
    this.root = root;
    this.body = root.querySelector('.panel-body');
    this.closeButton = root.querySelector('.panel-close');
    this.closeButton.addEventListener('click', () => onClose());
    this.last = null;
    onLanguageChange(() => {
      if (this.last) this.last();
    });
  }

  hide() {
    this.root.hidden = true;
    this.last = null;
    this.body.replaceChildren();
  }

  /** What the model itself knows, while the server is asked for the rest. */
  showLoading(extras) {
    this.last = () => this.showLoading(extras);
    this.root.hidden = false;
    this.body.replaceChildren(this.header(extras), el('p', 'panel-note', t('panel.loading')));
  }

  showError(extras, message) {
    this.last = () => this.showError(extras, message);
    this.root.hidden = false;
    this.body.replaceChildren(this.header(extras), this.summary(extras, {}), el('p', 'panel-note', message));
  }

  /**
   * `element` is the server's answer; `context` {stateTitle, buildingName, diffStatus,
   * building (the server's answer for the element's building, when it has one)}.
   */
  showElement(element, context) {
    this.last = () => this.showElement(element, context);
    this.root.hidden = false;
    const parts = [this.header(element), this.summary(element, context)];
    const changes = changeRows(element.diffChanges);
    if (changes.length) parts.push(el('h3', 'panel-section', t('panel.changes')), table(changes));
    const attributes = Object.entries(element.attributes ?? {}).filter(([, value]) => value !== null && value !== '');
    if (attributes.length) {
      parts.push(el('h3', 'panel-section', t('panel.attributes')), table(attributes));
    }
    parts.push(el('h3', 'panel-section', t('panel.psets')));
    const psets = Object.entries(element.psets ?? {});
    if (!psets.length) parts.push(el('p', 'panel-note', t('panel.noPsets')));
    for (const [name, properties] of psets) {
      const rows = properties && typeof properties === 'object' ? Object.entries(properties) : [['', properties]];
      const block = table(rows, name);
      block.dataset.pset = name;
      parts.push(block);
    }
    if (context.building) parts.push(this.buildingSection(context.building));
    this.body.replaceChildren(...parts);
  }

  /** The building an element belongs to: what a resident clicking "a building" wants. */
  buildingSection(building) {
    const section = el('section', 'panel-building');
    section.dataset.globalId = building.globalId;
    section.append(el('h3', 'panel-section', `${t('panel.inBuilding')}: ${building.name ?? ''}`));
    const gid = el('div', 'panel-gid');
    gid.append(el('span', 'panel-gid-label', `${t('panel.globalId')}: `), el('code', 'gid', building.globalId));
    section.append(gid);
    for (const [name, properties] of Object.entries(building.psets ?? {})) {
      const block = table(Object.entries(properties ?? {}), name);
      block.dataset.pset = name;
      section.append(block);
    }
    return section;
  }

  header(info) {
    const header = el('div', 'panel-header');
    const kind = el('div', 'panel-kind', className(info.ifcClass, info.predefinedType));
    const name = el('div', 'panel-name', info.name || '');
    const gid = el('div', 'panel-gid');
    gid.append(el('span', 'panel-gid-label', `${t('panel.globalId')}: `));
    const code = el('code', 'gid', info.globalId ?? '');
    code.dataset.testid = 'panel-gid';
    gid.append(code);
    header.append(kind, name, gid);
    return header;
  }

  summary(info, context) {
    const rows = [
      [t('panel.class'), info.ifcClass],
      [t('panel.predefinedType'), info.predefinedType],
      [t('panel.storey'), info.storey],
      [t('panel.building'), context.buildingName ?? info.building],
      [t('panel.status'), info.status],
    ];
    if (context.diffStatus) rows.push([t('panel.change'), t(`diff.${context.diffStatus}`)]);
    if (context.stateTitle) rows.push([t('panel.state'), context.stateTitle]);
    return table(rows.filter(([, value]) => value !== null && value !== undefined && value !== ''));
  }
}
