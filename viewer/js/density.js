/**
 * Crowd density as a heat map on the ground: residents per square metre in 2 m cells at
 * the clock's time, transparent where nobody is, yellow → orange → red as the crowd
 * thickens (Fruin's levels of service for walkways: above ~0.5 p/m² movement is
 * restricted, above ~2 p/m² it is crowded, towards 4 p/m² it jams).
 *
 * One texture over the area the frames ever reach, redrawn on every tick, on a plane
 * just above the ground under the model's twin-root node (twin metres).
 */
import * as THREE from 'three';

export const CELL_M = 2;
export const DENSITY_STOPS = [[0.25, [255, 236, 153, 120]], [0.5, [255, 212, 59, 170]], [2, [253, 126, 20, 210]],
  [4, [224, 49, 49, 235]]];

function colourOf(density, out, offset) {
  if (density <= 0) {
    out[offset + 3] = 0;
    return;
  }
  let stop = DENSITY_STOPS[0];
  for (const candidate of DENSITY_STOPS) if (density >= candidate[0]) stop = candidate;
  out.set(stop[1], offset);
}

export class DensityMap {
  constructor(frames) {
    this.frames = frames;
    const xy = frames.arrays.positions_xy_m;
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (let i = 0; i < xy.length; i += 2) {
      const x = xy[i];
      const y = xy[i + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
      if (y < minY) minY = y;
      if (y > maxY) maxY = y;
    }
    if (!Number.isFinite(minX)) [minX, minY, maxX, maxY] = [0, 0, CELL_M, CELL_M];
    this.x0 = Math.floor(minX / CELL_M) * CELL_M - CELL_M;
    this.y0 = Math.floor(minY / CELL_M) * CELL_M - CELL_M;
    this.nx = Math.min(2048, Math.ceil((maxX - this.x0) / CELL_M) + 2);
    this.ny = Math.min(2048, Math.ceil((maxY - this.y0) / CELL_M) + 2);
    this.counts = new Uint16Array(this.nx * this.ny);
    this.pixels = new Uint8Array(this.nx * this.ny * 4);
    this.texture = new THREE.DataTexture(this.pixels, this.nx, this.ny, THREE.RGBAFormat);
    this.texture.magFilter = THREE.NearestFilter;
    this.texture.colorSpace = THREE.SRGBColorSpace;
    const width = this.nx * CELL_M;
    const height = this.ny * CELL_M;
    // PlaneGeometry lies in x-y, uv (0,0) at its south-west corner: row 0 of the texture is y0.
    this.mesh = new THREE.Mesh(
      new THREE.PlaneGeometry(width, height).translate(this.x0 + width / 2, this.y0 + height / 2, 0.25),
      new THREE.MeshBasicMaterial({ map: this.texture, transparent: true, depthWrite: false }),
    );
    this.mesh.name = 'density';
    this.mesh.renderOrder = 2;
    this.mesh.userData = { role: 'playback', noPick: true };
    this.xy = null;
    this.peak = 0;
  }

  update(t) {
    this.xy = this.frames.positionsAt(t, this.xy);
    this.counts.fill(0);
    const { xy, nx, ny, counts } = this;
    for (let i = 0; i < xy.length; i += 2) {
      if (!Number.isFinite(xy[i])) continue;
      const cx = Math.floor((xy[i] - this.x0) / CELL_M);
      const cy = Math.floor((xy[i + 1] - this.y0) / CELL_M);
      if (cx >= 0 && cy >= 0 && cx < nx && cy < ny) counts[cy * nx + cx] += 1;
    }
    this.peak = 0;
    for (let c = 0; c < counts.length; c += 1) {
      const density = counts[c] / (CELL_M * CELL_M);
      if (density > this.peak) this.peak = density;
      colourOf(density, this.pixels, 4 * c);
    }
    this.texture.needsUpdate = true;
  }

  /** Residents per m² in the cell holding (x, y) at the last update. */
  densityAt(x, y) {
    const cx = Math.floor((x - this.x0) / CELL_M);
    const cy = Math.floor((y - this.y0) / CELL_M);
    if (cx < 0 || cy < 0 || cx >= this.nx || cy >= this.ny) return 0;
    return this.counts[cy * this.nx + cx] / (CELL_M * CELL_M);
  }

  dispose() {
    this.mesh.geometry.dispose();
    this.mesh.material.dispose();
    this.texture.dispose();
  }
}
