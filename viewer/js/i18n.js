/**
 * Every label of the viewer in Chinese and English, from one table.
 *
 * The language starts from `?lang=zh|en` when given, else from the browser
 * (navigator.language starting with "zh" → Chinese), and can be switched at any
 * time: elements carrying `data-i18n="key"` (text), `data-i18n-title="key"`
 * (tooltip) or `data-i18n-aria="key"` (aria-label) are relabelled, and listeners
 * registered with `onLanguageChange` re-render what they built themselves.
 * Names that come from the model (building and storey names, property names)
 * are data, not labels, and are shown as the model has them.
 */

export const LANGUAGES = ['zh', 'en'];

const STRINGS = {
  'app.title': { en: 'Community Twin', zh: '社区数字孪生' },
  'app.loading': { en: 'Loading the 3D model…', zh: '正在加载三维模型…' },
  'app.error': { en: 'Something went wrong', zh: '出现错误' },
  'app.noProjects': { en: 'The server offers no project.', zh: '服务器上没有项目。' },
  'app.hint': {
    en: 'Drag to turn · right-drag to move · wheel to zoom · click a building for details',
    zh: '拖动旋转 · 右键拖动平移 · 滚轮缩放 · 点击建筑查看详情',
  },
  'lang.switch': { en: '中文', zh: 'English' },
  'lang.switchTitle': { en: 'Switch to Chinese', zh: '切换为英文' },

  'mode.label': { en: 'View', zh: '视图' },
  'mode.single': { en: 'One view', zh: '单视图' },
  'mode.side': { en: 'Side by side', zh: '左右对比' },
  'mode.swipe': { en: 'Swipe', zh: '卷帘对比' },
  'state.single': { en: 'Showing', zh: '显示' },
  'state.left': { en: 'Left', zh: '左侧' },
  'state.right': { en: 'Right', zh: '右侧' },
  'swipe.handle': { en: 'Drag to compare', zh: '拖动对比' },

  'diff.toggle': { en: 'Highlight changes', zh: '突出显示变化' },
  'diff.title': { en: 'Changes compared with', zh: '相对于以下方案的变化：' },
  'diff.needsProposal': {
    en: 'Choose a proposal (not the baseline) to see what changes.',
    zh: '请选择一个改造方案（非现状）以查看变化。',
  },
  'diff.added': { en: 'Added', zh: '新增' },
  'diff.removed': { en: 'Removed', zh: '拆除' },
  'diff.geometry': { en: 'Shape changed', zh: '形体变化' },
  'diff.data': { en: 'Data changed', zh: '属性变化' },
  'diff.geometry+data': { en: 'Shape and data changed', zh: '形体与属性均变化' },
  'diff.unchanged': { en: 'Unchanged', zh: '未变化' },

  'layers.title': { en: 'Show on the map', zh: '图层' },
  'layer.buildings': { en: 'Buildings', zh: '建筑' },
  'layer.roads': { en: 'Roads and paving', zh: '道路与铺装' },
  'layer.pipes': { en: 'Storm pipes and manholes', zh: '雨水管网' },
  'layer.green': { en: 'Green space and sponge facilities', zh: '绿地与海绵设施' },
  'layer.parking': { en: 'Parking', zh: '停车' },
  'layer.service': { en: 'Service points', zh: '公共服务设施' },
  'layer.context': { en: 'Surroundings', zh: '周边环境' },
  'layer.other': { en: 'Walls, gates, hydrants, others', zh: '围墙、大门、消火栓等' },
  'layer.unavailable': { en: '(not available)', zh: '（无数据）' },

  'tree.title': { en: 'Buildings and storeys', zh: '楼栋与楼层' },
  'tree.elements': { en: '{n} elements', zh: '{n} 个构件' },
  'tree.flyTo': { en: 'Go to', zh: '定位' },

  'panel.title': { en: 'Details', zh: '详细信息' },
  'panel.close': { en: 'Close', zh: '关闭' },
  'panel.loading': { en: 'Loading details…', zh: '正在加载详细信息…' },
  'panel.notFound': { en: 'The server has no details for this element.', zh: '服务器上没有该构件的详细信息。' },
  'panel.globalId': { en: 'GlobalId', zh: '全局编号 (GlobalId)' },
  'panel.class': { en: 'Type', zh: '类型' },
  'panel.predefinedType': { en: 'Predefined type', zh: '预定义类型' },
  'panel.name': { en: 'Name', zh: '名称' },
  'panel.storey': { en: 'Storey', zh: '楼层' },
  'panel.building': { en: 'Building', zh: '楼栋' },
  'panel.status': { en: 'Renovation status', zh: '改造状态' },
  'panel.change': { en: 'Change', zh: '变化' },
  'panel.state': { en: 'In', zh: '所属方案' },
  'panel.attributes': { en: 'Attributes', zh: '基本属性' },
  'panel.psets': { en: 'Property sets', zh: '属性集' },
  'panel.noPsets': { en: 'No property sets.', zh: '无属性集。' },
  'panel.changes': { en: 'What changed (before → after)', zh: '变化内容（改造前 → 改造后）' },
  'panel.geometryChange': { en: 'Shape or position', zh: '形体或位置' },
  'panel.inBuilding': { en: 'The building', zh: '所在楼栋' },
  'value.yes': { en: 'yes', zh: '是' },
  'value.no': { en: 'no', zh: '否' },

  'tool.fullscreen': { en: 'Full screen', zh: '全屏' },
  'tool.screenshot': { en: 'Save image', zh: '截图' },
  'tool.sidebar': { en: 'Show or hide the side panel', zh: '显示或隐藏侧栏' },
  'tool.resetView': { en: 'Overview', zh: '全貌' },

  'clock.play': { en: 'Play', zh: '播放' },
  'clock.pause': { en: 'Pause', zh: '暂停' },
  'clock.speed': { en: 'Speed', zh: '速度' },
  'clock.time': { en: 'Time', zh: '时间' },
};

/** Friendly names of IFC classes, so a resident reads "Window", not "IfcWindow". */
const CLASS_NAMES = {
  IfcWall: { en: 'Wall', zh: '墙' },
  IfcWindow: { en: 'Window', zh: '窗' },
  IfcDoor: { en: 'Door', zh: '门' },
  'IfcDoor.GATE': { en: 'Gate', zh: '大门' },
  IfcRoof: { en: 'Roof', zh: '屋顶' },
  IfcSlab: { en: 'Slab', zh: '楼板' },
  'IfcSlab.FLOOR': { en: 'Floor slab', zh: '楼板' },
  'IfcSlab.PAVING': { en: 'Paving', zh: '铺装' },
  'IfcCovering.ROOFING': { en: 'Roof covering', zh: '屋面' },
  IfcCovering: { en: 'Covering', zh: '饰面' },
  IfcTransportElement: { en: 'Lift', zh: '电梯' },
  IfcPavement: { en: 'Road', zh: '道路' },
  IfcRoad: { en: 'Roads', zh: '道路' },
  IfcPipeSegment: { en: 'Storm pipe', zh: '雨水管' },
  IfcDistributionChamberElement: { en: 'Manhole', zh: '检查井' },
  IfcTank: { en: 'Tank', zh: '水池' },
  IfcFireSuppressionTerminal: { en: 'Fire hydrant', zh: '消火栓' },
  IfcGeographicElement: { en: 'Green space', zh: '绿地' },
  'IfcGeographicElement.USERDEFINED': { en: 'Sponge facility', zh: '海绵设施' },
  IfcSpace: { en: 'Space', zh: '空间' },
  'IfcSpace.PARKING': { en: 'Parking', zh: '停车场' },
  'IfcSpace.EXTERNAL': { en: 'Open space', zh: '室外场地' },
  IfcBuildingElementProxy: { en: 'Structure', zh: '构筑物' },
  IfcBuilding: { en: 'Building', zh: '楼栋' },
  IfcBuildingStorey: { en: 'Storey', zh: '楼层' },
  IfcSite: { en: 'Site', zh: '场地' },
  IfcProject: { en: 'Project', zh: '项目' },
  ServicePoint: { en: 'Service point', zh: '服务设施' },
};

let currentLanguage = 'en';
const listeners = new Set();

/** `?lang=` when it names a known language, else the browser's language. */
export function initialLanguage(search = window.location.search, browser = navigator.language) {
  const asked = new URLSearchParams(search).get('lang');
  if (asked && LANGUAGES.includes(asked)) return asked;
  return (browser || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function language() {
  return currentLanguage;
}

/** The label of `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const entry = STRINGS[key];
  let text = entry ? entry[currentLanguage] ?? entry.en : key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

/** Friendly name of an IFC class (with its predefined type when that reads better). */
export function className(ifcClass, predefinedType) {
  const entry = CLASS_NAMES[`${ifcClass}.${predefinedType}`] ?? CLASS_NAMES[ifcClass];
  return entry ? entry[currentLanguage] : ifcClass || '';
}

/** The title of a project or state in the current language (`title_zh` / `title_en`), else its name. */
export function titleOf(item) {
  if (!item) return '';
  return item[`title_${currentLanguage}`] || item.title_en || item.name;
}

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) throw new Error(`unknown language ${lang}; expected one of ${LANGUAGES}`);
  currentLanguage = lang;
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  relabel(document);
  for (const listener of listeners) listener(lang);
}

/** Relabel every element under `root` that names an i18n key. */
export function relabel(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
}

export function onLanguageChange(listener) {
  listeners.add(listener);
}
