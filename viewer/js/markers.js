/**
 * Service points (kindergarten, elderly station, community centre...) as tall labelled
 * pins above their buildings, from the state's layers (GET .../layers, twin coordinates),
 * so a visitor finds them at a glance. Pins hang under the model's twin-root node, where
 * twin coordinates (x east, y north, z up) apply unchanged; they belong to the "service"
 * layer group and can be picked (the panel shows the service point's fields).
 */
import * as THREE from 'three';
import { PICK_LAYER } from './batch.js';
import { language, onLanguageChange } from './i18n.js';

const SERVICE_LABELS = {
  kindergarten: { en: 'Kindergarten', zh: '幼儿园', colour: '#d6336c' },
  elderly_station: { en: 'Elderly care station', zh: '养老服务站', colour: '#7048e8' },
  elderly_care: { en: 'Elderly care', zh: '养老服务', colour: '#7048e8' },
  community_centre: { en: 'Community centre', zh: '社区服务中心', colour: '#0c8599' },
  clinic: { en: 'Clinic', zh: '卫生服务站', colour: '#e03131' },
  school: { en: 'School', zh: '学校', colour: '#f08c00' },
};
const DEFAULT_SERVICE = { colour: '#495057' };

const labelled = new Set(); // sprites whose text follows the language
onLanguageChange(() => {
  for (const sprite of labelled) paintLabel(sprite);
});

export function serviceLabel(type) {
  const entry = SERVICE_LABELS[type];
  return entry ? entry[language()] : String(type || '').replaceAll('_', ' ');
}

/** Plan position (x, y) of a GeoJSON geometry: a point, or the mean of a polygon's ring. */
function planPosition(geometry) {
  if (!geometry) return null;
  if (geometry.type === 'Point') return geometry.coordinates;
  const ring = geometry.type === 'Polygon' ? geometry.coordinates[0]
    : geometry.type === 'MultiPolygon' ? geometry.coordinates[0][0] : null;
  if (!ring || !ring.length) return null;
  const points = ring.length > 1 ? ring.slice(0, -1) : ring; // the ring repeats its first point
  const sum = points.reduce((acc, [x, y]) => [acc[0] + x, acc[1] + y], [0, 0]);
  return [sum[0] / points.length, sum[1] / points.length];
}

function paintLabel(sprite) {
  const { text, colour } = { text: serviceLabel(sprite.userData.serviceType), colour: sprite.userData.colour };
  const canvas = document.createElement('canvas');
  const paint = canvas.getContext('2d');
  const font = 'bold 44px "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif';
  paint.font = font;
  const width = Math.ceil(paint.measureText(text).width) + 40;
  canvas.width = width;
  canvas.height = 72;
  paint.font = font;
  paint.fillStyle = colour;
  paint.beginPath();
  paint.roundRect(0, 0, width, 72, 16);
  paint.fill();
  paint.fillStyle = '#ffffff';
  paint.textBaseline = 'middle';
  paint.fillText(text, 20, 38);
  sprite.material.map?.dispose();
  sprite.material.map = new THREE.CanvasTexture(canvas);
  sprite.material.map.colorSpace = THREE.SRGBColorSpace;
  sprite.material.needsUpdate = true;
  // Constant size on screen (no size attenuation): the scale is a fraction of the view
  // height times tan(fov / 2), so about 3.5 % of the height at the 35° field of view.
  const height = 0.022;
  sprite.scale.set((height * width) / 72, height, 1);
}

/** Add pins for the service points of `layers` (GeoJSON) to `model`. Returns how many. */
export function addServiceMarkers(model, layers) {
  const features = (layers?.features ?? []).filter((feature) => feature.properties?.layer === 'service_points');
  if (!features.length) return 0;
  const group = new THREE.Group();
  group.name = 'service points';
  group.userData = { role: 'service-markers', layerGroup: 'service' };
  const pole = new THREE.CylinderGeometry(0.5, 0.5, 1, 8).rotateX(Math.PI / 2).translate(0, 0, 0.5);
  const head = new THREE.SphereGeometry(2.2, 16, 12);
  for (const [index, feature] of features.entries()) {
    const props = feature.properties;
    const position = planPosition(feature.geometry) ?? props.position;
    if (!position) continue;
    const type = props.service_type;
    const colour = (SERVICE_LABELS[type] ?? DEFAULT_SERVICE).colour;
    const building = model.byGlobalId.get(props.global_id);
    // The pin stands on the roof of its building and rises above it, pins of neighbouring
    // service points to different heights so their labels do not cover each other.
    const roof = building ? new THREE.Box3().setFromObject(building).max.y : 0;
    const top = Math.max(roof, 0) + 10 + 12 * (index % 3);
    const material = new THREE.MeshLambertMaterial({ color: colour }); // matte, as the batches (batch.js)
    const marker = new THREE.Group();
    marker.userData = {
      role: 'service-marker', globalId: props.global_id ?? null,
      feature: { globalId: props.global_id ?? null, ifcClass: 'ServicePoint', name: props.name,
        attributes: Object.fromEntries(Object.entries(props).filter(([key]) => !['layer', 'global_id', 'position'].includes(key))),
        psets: {} },
    };
    const stick = new THREE.Mesh(pole, material);
    stick.scale.set(1, 1, top);
    const ball = new THREE.Mesh(head, material);
    ball.position.z = top;
    const label = new THREE.Sprite(new THREE.SpriteMaterial({ depthTest: false, transparent: true, sizeAttenuation: false }));
    label.renderOrder = 10;
    label.center.set(0.5, 0); // stands on the pin's head
    label.position.z = top + 2.5;
    label.userData = { serviceType: type, colour, noPick: true };
    paintLabel(label);
    labelled.add(label);
    stick.layers.enable(PICK_LAYER);
    ball.layers.enable(PICK_LAYER);
    marker.add(stick, ball, label);
    marker.position.set(position[0], position[1], 0);
    group.add(marker);
  }
  model.twinRoot.add(group);
  group.updateMatrixWorld(true);
  model.tagged.push(group);
  model.layerCounts.service = group.children.length;
  model.markers = group;
  model.visibilityKey = null; // let the next applyVisibility see the pins
  return group.children.length;
}
