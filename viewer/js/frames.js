/**
 * Simulation frames: the server's frames file (server/simulations.py) as typed arrays, and
 * where things are at any playback time.
 *
 * The file is fetched once and played back locally. Arrays keep the frames contract's
 * names and shapes (times_s (T,), positions_xy_m (T,N,2), state (T,N), group (N,),
 * link_flow_ratio (T,L), ...), viewed in place in the downloaded buffer; string arrays
 * (group_names, link_ids, ...) come in the header.
 *
 * Between two frames a position is interpolated linearly when the thing is present in
 * both; when it is present in only one (it arrives or leaves), the nearer frame decides
 * whether it is drawn and where. Values per link or node are those of the last frame at
 * or before the time (step, as the engines report them).
 */

const DTYPES = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
};

export class FramesError extends Error {}

export async function fetchFrames(url) {
  const response = await fetch(url);
  if (!response.ok) {
    let reason = `${response.status} ${response.statusText}`;
    try {
      reason = (await response.json()).error ?? reason;
    } catch { /* not JSON */ }
    throw new FramesError(`${url}: ${reason}`);
  }
  return decodeFrames(await response.arrayBuffer());
}

export function decodeFrames(buffer) {
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== 'TWFR') throw new FramesError('not a Community Twin frames file');
  const view = new DataView(buffer);
  const version = view.getUint32(4, true);
  if (version !== 1) throw new FramesError(`frames format ${version}; this viewer reads format 1`);
  const length = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 12, length)));
  const arrays = {};
  for (const [name, spec] of Object.entries(header.arrays)) {
    const Type = DTYPES[spec.dtype];
    if (!Type) throw new FramesError(`array ${name}: dtype ${spec.dtype} unknown`);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    arrays[name] = new Type(buffer, spec.offset, count);
  }
  return new Frames(header, arrays);
}

export class Frames {
  constructor(header, arrays) {
    this.header = header;
    this.arrays = arrays;
    this.strings = header.strings ?? {};
    this.times = arrays.times_s ?? new Float64Array(0);
    this.count = this.times.length;
    this.duration = this.count ? this.times[this.count - 1] : 0;
  }

  shape(name) {
    return this.header.arrays[name]?.shape ?? null;
  }

  has(name) {
    return name in this.arrays || name in this.strings;
  }

  /** {i0, i1, f}: the frames around time t and the fraction of the way from i0 to i1. */
  locate(t) {
    const { times, count } = this;
    if (!count) return { i0: 0, i1: 0, f: 0 };
    if (t <= times[0]) return { i0: 0, i1: 0, f: 0 };
    if (t >= times[count - 1]) return { i0: count - 1, i1: count - 1, f: 0 };
    let low = 0;
    let high = count - 1; // times[low] <= t < times[high]
    while (high - low > 1) {
      const middle = (low + high) >> 1;
      if (times[middle] <= t) low = middle;
      else high = middle;
    }
    return { i0: low, i1: high, f: (t - times[low]) / (times[high] - times[low]) };
  }

  /** Positions (x, y per entity, NaN when not drawn) of `name` (T,N,2) at time t into `out`. */
  positionsAt(t, out = null, name = 'positions_xy_m') {
    const [, n] = this.shape(name);
    const xy = this.arrays[name];
    const result = out ?? new Float32Array(n * 2);
    const { i0, i1, f } = this.locate(t);
    const a = i0 * n * 2;
    const b = i1 * n * 2;
    for (let k = 0; k < n; k += 1) {
      const x0 = xy[a + 2 * k];
      const y0 = xy[a + 2 * k + 1];
      const x1 = xy[b + 2 * k];
      const y1 = xy[b + 2 * k + 1];
      const here0 = Number.isFinite(x0) && Number.isFinite(y0);
      const here1 = Number.isFinite(x1) && Number.isFinite(y1);
      if (here0 && here1) {
        result[2 * k] = x0 + (x1 - x0) * f;
        result[2 * k + 1] = y0 + (y1 - y0) * f;
      } else if (f < 0.5 ? here0 : here1) {
        result[2 * k] = f < 0.5 ? x0 : x1;
        result[2 * k + 1] = f < 0.5 ? y0 : y1;
      } else {
        result[2 * k] = NaN;
        result[2 * k + 1] = NaN;
      }
    }
    return result;
  }

  /** An angle per entity of `name` (T,N) at time t, interpolated the short way round. */
  anglesAt(t, name, out = null) {
    const [, n] = this.shape(name);
    const values = this.arrays[name];
    const result = out ?? new Float32Array(n);
    const { i0, i1, f } = this.locate(t);
    for (let k = 0; k < n; k += 1) {
      const a0 = values[i0 * n + k];
      const a1 = values[i1 * n + k];
      if (!Number.isFinite(a0) || !Number.isFinite(a1)) {
        result[k] = Number.isFinite(a0) ? a0 : a1;
        continue;
      }
      const turn = Math.atan2(Math.sin(a1 - a0), Math.cos(a1 - a0));
      result[k] = a0 + turn * f;
    }
    return result;
  }

  /** Row of `name` (T,M) at the last frame at or before t (a view, not a copy). */
  rowAt(t, name) {
    const [, m] = this.shape(name);
    const { i0, i1, f } = this.locate(t);
    const index = f >= 1 ? i1 : i0;
    return this.arrays[name].subarray(index * m, (index + 1) * m);
  }
}
