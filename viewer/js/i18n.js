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
  'diff.title': { en: 'Changes compared with {base}', zh: '相对于“{base}”的变化' },
  'view.changesSince': { en: 'Coloured by change since {base}', zh: '颜色表示相对“{base}”的变化' },
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

  'sim.title': { en: 'Simulations', zh: '模拟' },
  'sim.run': { en: 'Run', zh: '运行' },
  'sim.running': { en: 'Running…', zh: '运行中…' },
  'sim.show': { en: 'Show on the map', zh: '在地图上显示' },
  'sim.status.none': { en: 'not run yet', zh: '尚未运行' },
  'sim.status.queued': { en: 'waiting to start', zh: '排队中' },
  'sim.status.running': { en: 'running', zh: '运行中' },
  'sim.status.done': { en: 'done ✓', zh: '完成 ✓' },
  'sim.status.failed': { en: 'failed', zh: '失败' },
  'sim.status.cancelled': { en: 'cancelled', zh: '已取消' },
  'sim.kind.evacuation': { en: 'Evacuation', zh: '应急疏散' },
  'sim.kind.traffic': { en: 'Traffic', zh: '交通微循环' },
  'sim.kind.stormwater': { en: 'Stormwater', zh: '雨水与海绵' },
  'sim.flowRatio': { en: 'Pipe flow / full flow:', zh: '管道流量 / 满管流量：' },
  'sim.density': { en: 'Residents per m²:', zh: '人员密度（人/平方米）：' },
  'sim.flooding': { en: 'Manhole overflowing', zh: '检查井溢流' },
  'group.adult': { en: 'Adults', zh: '成年人' },
  'group.elderly': { en: 'Elderly', zh: '老年人' },
  'group.child': { en: 'Children', zh: '儿童' },
  'group.mobility_impaired': { en: 'Reduced mobility', zh: '行动不便者' },
  'vtype.passenger': { en: 'Cars', zh: '小汽车' },
  'vtype.car': { en: 'Cars', zh: '小汽车' },
  'vtype.bus': { en: 'Buses', zh: '公交车' },
  'vtype.truck': { en: 'Trucks', zh: '货车' },
  'vtype.delivery': { en: 'Deliveries', zh: '快递车' },
  'vtype.emergency': { en: 'Emergency vehicles', zh: '应急车辆' },
  'vtype.fire': { en: 'Fire engines', zh: '消防车' },
  'vtype.fire_engine': { en: 'Fire engines', zh: '消防车' },
  'vtype.ambulance': { en: 'Ambulances', zh: '救护车' },
  'vtype.bicycle': { en: 'Bicycles', zh: '自行车' },
  'vtype.motorcycle': { en: 'Motorcycles', zh: '摩托车' },
  'metric.total_evacuation_time_s': { en: 'Time until everyone is safe', zh: '全部疏散用时' },
  'metric.t95_s': { en: 'Time until 95 % are safe', zh: '95% 人员疏散用时' },
  'metric.evacuated': { en: 'Residents safe', zh: '已疏散人数' },
  'metric.stuck': { en: 'Residents not safe', zh: '未能疏散人数' },
  'metric.mean_travel_time_s': { en: 'Mean travel time', zh: '平均行程时间' },
  'metric.mean_delay_s': { en: 'Mean delay', zh: '平均延误' },
  'metric.trips_completed': { en: 'Trips completed', zh: '完成出行车次' },
  'metric.max_queue_m': { en: 'Longest queue', zh: '最长排队长度' },
  'metric.flooding_volume_m3': { en: 'Water on the streets', zh: '地面积水量' },
  'metric.flooded_nodes': { en: 'Flooded manholes', zh: '溢流检查井数' },
  'metric.runoff_volume_m3': { en: 'Runoff', zh: '径流量' },
  'metric.runoff_control_rate': { en: 'Share of the rain kept on site', zh: '径流总量控制率' },
  'metric.peak_outfall_flow_m3s': { en: 'Peak flow leaving the site', zh: '排口峰值流量' },
  'metric.p95_travel_time_s': { en: '95 % of trips take less than', zh: '95% 出行用时' },

  'unit.s': { en: 's', zh: '秒' },
  'unit.persons': { en: 'persons', zh: '人' },
  'unit.persons/s': { en: 'persons/s', zh: '人/秒' },
  'unit.m': { en: 'm', zh: '米' },
  'unit.m3': { en: 'm³', zh: '立方米' },
  'unit.m3/s': { en: 'm³/s', zh: '立方米/秒' },
  'unit.vehicles': { en: 'vehicles', zh: '辆' },
  'unit.veh': { en: 'vehicles', zh: '辆' },
  'unit.1': { en: '', zh: '' },
  'unit.count': { en: '', zh: '个' },
  'unit.%': { en: '%', zh: '%' },

  'tour.step': { en: 'Step {n} of {total}', zh: '第 {n} 步，共 {total} 步' },
  'tour.back': { en: 'Back', zh: '上一步' },
  'tour.next': { en: 'Next', zh: '下一步' },
  'tour.again': { en: 'Start again', zh: '重新开始' },
  'tour.overview.title': { en: 'The community today', zh: '小区现状' },
  'tour.overview.body': {
    en: '{buildings} buildings and about {residents} residents on {hectares} hectares.',
    zh: '占地 {hectares} 公顷，{buildings} 栋楼，约 {residents} 位居民。',
  },
  'tour.compare.title': { en: 'Before and after', zh: '改造前后对比' },
  'tour.compare.body': {
    en: 'Left of the line: {before}. Right of the line: {after}.',
    zh: '分隔线左侧：{before}；右侧：{after}。',
  },
  'tour.changes.title': { en: 'What the retrofit changes', zh: '改造的主要内容' },
  'tour.changes.body': {
    en: '{added} new elements, {removed} removed, {changed} changed. Coloured by change.',
    zh: '新增 {added} 个构件，拆除 {removed} 个，改动 {changed} 个（按变化类型着色）。',
  },
  'tour.sim.title': { en: 'Simulation: {name}', zh: '模拟：{name}' },
  'tour.sim.body': { en: 'Left: {before}. Right: {after}. Both play on the same clock.', zh: '左：{before}；右：{after}。两侧同步播放。' },
  'tour.end.title': { en: 'Thank you', zh: '谢谢观看' },
  'tour.end.body': { en: 'Tell us what you think of the plan.', zh: '欢迎对改造方案提出您的意见和建议。' },
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
