/**
 * Storm drainage during a rain: each pipe drawn as a ribbon on the ground above it,
 * coloured by its flow / full-flow ratio, and flooded manholes as blue discs sized by
 * their flooding rate — at the clock's time.
 *
 * Pipes are matched by IFC GlobalId: the frames' `link_ids` against the pipes of the
 * state's layers (GET .../layers, twin coordinates; the GLB names the same pipes' nodes by
 * GlobalId), nodes by `node_ids` against its manholes and outfalls. Pipes lie metres
 * under the paving, so the ribbons are drawn on the ground (an x-ray plan), under the
 * model's twin-root node. Ids the state does not have are counted in `unmatched`.
 */
import * as THREE from 'three';

/** Flow ratio → colour: dry, part full, nearly full, full, surcharged. */
export const FLOW_STOPS = [
  [0, '#d0ebff'], [0.5, '#339af0'], [0.8, '#fab005'], [1.0, '#f03e3e'], [1.3, '#862e9c'],
];

const stops = FLOW_STOPS.map(([value, colour]) => [value, new THREE.Color(colour)]);

export function flowColour(ratio, out = new THREE.Color()) {
  if (!Number.isFinite(ratio)) return out.set('#adb5bd');
  if (ratio <= stops[0][0]) return out.copy(stops[0][1]);
  for (let i = 1; i < stops.length; i += 1) {
    if (ratio <= stops[i][0]) {
      const [v0, c0] = stops[i - 1];
      const [v1, c1] = stops[i];
      return out.copy(c0).lerp(c1, (ratio - v0) / (v1 - v0));
    }
  }
  return out.copy(stops[stops.length - 1][1]);
}

const RIBBON_Z_M = 0.35; // just above the paving (the site's surfaces are at z ≥ 0)
const HIDDEN = new THREE.Matrix4().makeScale(0, 0, 0);

function featuresOf(layers, names) {
  return (layers?.features ?? []).filter((f) => names.includes(f.properties?.layer) && f.geometry);
}

export class PipeFlow {
  constructor(frames, layers) {
    this.frames = frames;
    const ids = frames.strings.link_ids ?? [];
    const pipes = new Map(featuresOf(layers, ['pipes']).map((f) => [f.properties.global_id, f]));
    this.slots = []; // [link index, instance index]
    const geometry = new THREE.BoxGeometry(1, 1, 0.2);
    const material = new THREE.MeshBasicMaterial({ transparent: true, opacity: 0.95 });
    const matched = ids.map((id, index) => [index, pipes.get(id)]).filter(([, f]) => f);
    this.unmatched = ids.length - matched.length;
    this.mesh = new THREE.InstancedMesh(geometry, material, Math.max(1, matched.length));
    this.mesh.count = matched.length;
    this.mesh.name = 'pipe flow';
    this.mesh.userData = { role: 'playback', noPick: true };
    this.axes = [];
    for (const [linkIndex, feature] of matched) {
      const [[x0, y0], [x1, y1]] = feature.geometry.coordinates;
      const width = Math.max(Number(feature.properties.diameter_m) || 0.3, 0.3);
      this.axes.push({ linkIndex, x: (x0 + x1) / 2, y: (y0 + y1) / 2, length: Math.hypot(x1 - x0, y1 - y0),
        angle: Math.atan2(y1 - y0, x1 - x0), width });
    }
    this.matrix = new THREE.Matrix4();
    this.colour = new THREE.Color();
    this.lastScale = null;
  }

  update(t, scale = 1) {
    const ratios = this.frames.rowAt(t, 'link_flow_ratio');
    const { mesh } = this;
    if (scale !== this.lastScale) {
      const q = new THREE.Quaternion();
      const z = new THREE.Vector3(0, 0, 1);
      this.axes.forEach((axis, k) => {
        q.setFromAxisAngle(z, axis.angle);
        const width = Math.max(axis.width, 0.8 * scale);
        mesh.setMatrixAt(k, this.matrix.compose(new THREE.Vector3(axis.x, axis.y, RIBBON_Z_M), q,
          new THREE.Vector3(axis.length, width, 1)));
      });
      mesh.instanceMatrix.needsUpdate = true;
      this.lastScale = scale;
    }
    this.axes.forEach((axis, k) => mesh.setColorAt(k, flowColour(ratios[axis.linkIndex], this.colour)));
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
  }

  /** Colour [r, g, b] (0-1, linear) of the ribbon of link `linkIndex`, or null when not drawn. */
  colourOfLink(linkIndex) {
    const k = this.axes.findIndex((axis) => axis.linkIndex === linkIndex);
    if (k < 0) return null;
    this.mesh.getColorAt(k, this.colour);
    return [this.colour.r, this.colour.g, this.colour.b];
  }

  dispose() {
    this.mesh.geometry.dispose();
    this.mesh.material.dispose();
    this.mesh.dispose();
  }
}

/** Manholes that flood: discs whose radius grows with the flooding rate (2 m + 10 m × √(m³/s)). */
export class Flooding {
  constructor(frames, layers) {
    this.frames = frames;
    const ids = frames.strings.node_ids ?? [];
    const nodes = new Map(featuresOf(layers, ['manholes', 'outfalls']).map((f) => [f.properties.global_id, f]));
    this.points = ids.map((id, nodeIndex) => {
      const f = nodes.get(id);
      const [x, y] = f ? (f.geometry.coordinates ?? []) : [];
      return f ? { nodeIndex, x, y } : null;
    }).filter(Boolean);
    this.unmatched = ids.length - this.points.length;
    const disc = new THREE.CylinderGeometry(1, 1, 0.3, 24).rotateX(Math.PI / 2).translate(0, 0, 0.5);
    const material = new THREE.MeshBasicMaterial({ color: '#1864ab', transparent: true, opacity: 0.7, depthWrite: false });
    this.mesh = new THREE.InstancedMesh(disc, material, Math.max(1, this.points.length));
    this.mesh.count = this.points.length;
    this.mesh.frustumCulled = false;
    this.mesh.name = 'flooding';
    this.mesh.userData = { role: 'playback', noPick: true };
    this.matrix = new THREE.Matrix4();
    this.flooded = 0;
  }

  update(t) {
    const rates = this.frames.rowAt(t, 'node_flooding_m3s');
    this.flooded = 0;
    this.points.forEach((point, k) => {
      const rate = rates[point.nodeIndex];
      if (!(rate > 0)) {
        this.mesh.setMatrixAt(k, HIDDEN);
        return;
      }
      this.flooded += 1;
      const radius = 2 + 10 * Math.sqrt(rate);
      this.mesh.setMatrixAt(k, this.matrix.makeScale(radius, radius, 1).setPosition(point.x, point.y, 0));
    });
    this.mesh.instanceMatrix.needsUpdate = true;
  }

  dispose() {
    this.mesh.geometry.dispose();
    this.mesh.material.dispose();
    this.mesh.dispose();
  }
}
