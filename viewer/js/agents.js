/**
 * Residents and vehicles of a simulation as instanced meshes: one draw call for all of
 * them, one instance per resident (coloured by group) or vehicle (coloured and sized by
 * type), moved to where the frames put them at the clock's time.
 *
 * Meshes hang under the model's twin-root node, so positions are the frames' own twin
 * metres (x east, y north, z up). Something absent at that time (out, or not on the road)
 * is drawn with a zero scale. `scale` enlarges the figures when the camera is far away,
 * so residents stay visible as dots in the whole-community view.
 */
import * as THREE from 'three';

export const GROUP_COLOURS = {
  adult: '#1c7ed6', elderly: '#f08c00', child: '#2f9e44', mobility_impaired: '#ae3ec9',
};
export const VTYPE_STYLE = {
  // cars white: the sample's roads are dark asphalt, on which grey cars vanish
  passenger: { colour: '#f8f9fa', length: 4.5 }, car: { colour: '#f8f9fa', length: 4.5 },
  taxi: { colour: '#f59f00', length: 4.5 }, bus: { colour: '#fab005', length: 12 },
  truck: { colour: '#8d6e63', length: 8 }, delivery: { colour: '#8d6e63', length: 6 },
  emergency: { colour: '#e03131', length: 6 }, fire: { colour: '#e03131', length: 8 },
  fire_engine: { colour: '#e03131', length: 8.5 },
  ambulance: { colour: '#ffffff', length: 6 }, bicycle: { colour: '#12b886', length: 1.8 },
  motorcycle: { colour: '#12b886', length: 2.2 },
};
const PALETTE = ['#1c7ed6', '#f08c00', '#2f9e44', '#ae3ec9', '#e8590c', '#0ca678', '#d6336c'];

export function groupColour(name, index) {
  return GROUP_COLOURS[name] ?? PALETTE[index % PALETTE.length];
}

export function vehicleStyle(name, index) {
  return VTYPE_STYLE[name] ?? { colour: PALETTE[index % PALETTE.length], length: 4.5 };
}

const HIDDEN = new THREE.Matrix4().makeScale(0, 0, 0);

class InstancedMovers {
  /**
   * frames: Frames; geometry: unit figure standing on z = 0; styles: per-instance
   * {colour, length} (length scales the figure along its heading); name: a label.
   */
  constructor({ frames, geometry, styles, name, headings = null }) {
    this.frames = frames;
    const [, n] = frames.shape('positions_xy_m');
    this.count = n;
    this.headings = headings;
    this.mesh = new THREE.InstancedMesh(geometry, new THREE.MeshStandardMaterial({ roughness: 0.7 }), n);
    this.mesh.name = name;
    this.mesh.frustumCulled = false; // instances move: the geometry's own sphere says nothing
    this.mesh.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    this.mesh.userData = { role: 'playback', noPick: true };
    this.lengths = new Float32Array(n);
    const colour = new THREE.Color();
    for (let k = 0; k < n; k += 1) {
      this.mesh.setColorAt(k, colour.set(styles[k].colour));
      this.lengths[k] = styles[k].length ?? 1;
    }
    this.xy = new Float32Array(n * 2);
    this.angle = headings ? new Float32Array(n) : null;
    this.matrix = new THREE.Matrix4();
    this.position = new THREE.Vector3();
    this.rotation = new THREE.Quaternion();
    this.size = new THREE.Vector3();
    this.zAxis = new THREE.Vector3(0, 0, 1);
  }

  update(t, scale = 1) {
    const { frames, mesh } = this;
    frames.positionsAt(t, this.xy);
    if (this.headings) frames.anglesAt(t, this.headings, this.angle);
    for (let k = 0; k < this.count; k += 1) {
      const x = this.xy[2 * k];
      const y = this.xy[2 * k + 1];
      if (!Number.isFinite(x)) {
        mesh.setMatrixAt(k, HIDDEN);
        continue;
      }
      this.position.set(x, y, 0);
      this.rotation.setFromAxisAngle(this.zAxis, this.angle ? this.angle[k] : 0);
      // vehicles grow less along their length, or a far-away bus would cover a block
      this.size.set(this.lengths[k] * (this.headings ? Math.min(scale, 2) : scale), scale, scale);
      mesh.setMatrixAt(k, this.matrix.compose(this.position, this.rotation, this.size));
    }
    mesh.instanceMatrix.needsUpdate = true;
  }

  /** {x, y, z, shown} of instance k in twin metres, as drawn now. */
  instance(k) {
    const e = this.mesh.instanceMatrix.array;
    const o = 16 * k;
    const shown = Math.abs(e[o]) + Math.abs(e[o + 1]) + Math.abs(e[o + 5]) > 0;
    return { x: e[o + 12], y: e[o + 13], z: e[o + 14], shown };
  }

  dispose() {
    this.mesh.geometry.dispose();
    this.mesh.material.dispose();
    this.mesh.dispose();
  }
}

/** Residents: 0.6 m wide, 1.7 m tall figures coloured by group (frames group / group_names). */
export class Residents extends InstancedMovers {
  constructor(frames) {
    const names = frames.strings.group_names ?? [];
    const group = frames.arrays.group;
    const [, n] = frames.shape('positions_xy_m');
    const styles = Array.from({ length: n }, (_, k) => {
      const index = group ? group[k] : 0;
      return { colour: groupColour(names[index], index), length: 1 };
    });
    const figure = new THREE.CylinderGeometry(0.3, 0.3, 1.7, 10).rotateX(Math.PI / 2).translate(0, 0, 0.85);
    super({ frames, geometry: figure, styles, name: 'residents' });
    this.groups = names.map((name, index) => ({ name, colour: groupColour(name, index) }));
  }
}

/** Vehicles: boxes 1.8 m wide, 1.5 m high, as long as their type, turned to their heading
 * (heading_rad, anticlockwise from east), coloured by type (frames vtype / vtype_names). */
export class Vehicles extends InstancedMovers {
  constructor(frames) {
    const names = frames.strings.vtype_names ?? [];
    const vtype = frames.arrays.vtype;
    const [, n] = frames.shape('positions_xy_m');
    const styles = Array.from({ length: n }, (_, k) => vehicleStyle(names[vtype ? vtype[k] : 0], vtype ? vtype[k] : 0));
    const body = new THREE.BoxGeometry(1, 1.8, 1.5).translate(0, 0, 0.75);
    super({ frames, geometry: body, styles, name: 'vehicles', headings: frames.has('heading_rad') ? 'heading_rad' : null });
    this.types = names.map((name, index) => ({ name, colour: vehicleStyle(name, index).colour }));
  }
}
