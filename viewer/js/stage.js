/**
 * The 3D stage: one WebGL renderer and one camera showing one or two scenes ("slots").
 *
 * - single: the right slot fills the canvas;
 * - side:   left and right slots in two half-width viewports, seen by the same camera,
 *           so moving either view moves both (the cameras are synced by being one);
 * - swipe:  both slots fill the canvas, the left one drawn left of the slider and the
 *           right one right of it (renderer scissor), again through the same camera.
 *
 * Rendering is on demand (orbiting, loading, toggles), never in a free-running loop:
 * on a software-rendered screen every frame costs, and a still picture costs nothing.
 * Coordinates given to and returned by the stage are canvas CSS pixels from the top left.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/addons/controls/OrbitControls.js';
import { PICK_LAYER } from './batch.js';
import { elementNodeOf } from './loader.js';

const DEG = Math.PI / 180;
const VIEW_ELEVATION = 38 * DEG;
const VIEW_AZIMUTH = 40 * DEG; // from south towards east
/** Unit vector from the target towards the camera, from the south-east and above
 * (glTF frame: +x east, +y up, +z south). */
export const SOUTH_EAST_OBLIQUE = new THREE.Vector3(
  Math.sin(VIEW_AZIMUTH) * Math.cos(VIEW_ELEVATION),
  Math.sin(VIEW_ELEVATION),
  Math.cos(VIEW_AZIMUTH) * Math.cos(VIEW_ELEVATION),
);

/** SwiftShader, llvmpipe and friends: skip multisampling, which costs them dearly. */
function isSoftwareRenderer() {
  try {
    const probe = document.createElement('canvas');
    const gl = probe.getContext('webgl2') || probe.getContext('webgl');
    if (!gl) return true;
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const name = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return /swiftshader|llvmpipe|software|basic render/i.test(name);
  } catch {
    return false;
  }
}

/**
 * The sky: a gradient from the top of the view to the bottom, painted by CSS behind a
 * transparent canvas rather than drawn by WebGL. The same picture, but a full-screen
 * textured pass fewer per frame, which a software renderer pays for on every pixel.
 */
const SKY_STOPS = [[0, '#7fb0dc'], [0.6, '#c4dcef'], [1, '#eef3f6']];

/** The sky's sRGB colour [r, g, b] (0-255) at `fraction` of the height from the top. */
function skyAt(fraction) {
  const f = Math.min(1, Math.max(0, fraction));
  const upper = SKY_STOPS.findIndex(([at]) => at >= f);
  const [at1, c1] = SKY_STOPS[Math.max(0, upper - 1)];
  const [at2, c2] = SKY_STOPS[Math.max(0, upper)];
  const w = at2 > at1 ? (f - at1) / (at2 - at1) : 0;
  const rgb = (hex) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  const [a, b] = [rgb(c1), rgb(c2)];
  return a.map((value, i) => value + (b[i] - value) * w);
}

const CAPTION_FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif';

/** A view label ({title, note}) as the page draws it, painted into a 2D canvas at (x, y): its
 * top-left corner, or top-right with `right`. */
function drawCaption(paint, { title, note = '' }, x, y, { size, right = false }) {
  const titleFont = `700 ${size}px ${CAPTION_FONT}`;
  const noteFont = `600 ${Math.round(size * 0.72)}px ${CAPTION_FONT}`;
  paint.font = titleFont;
  let width = paint.measureText(title).width;
  if (note) {
    paint.font = noteFont;
    width = Math.max(width, paint.measureText(note).width);
  }
  const padding = Math.round(size * 0.55);
  const height = Math.round(size * (note ? 2.45 : 1.6));
  const left = right ? x - width - 2 * padding : x;
  paint.fillStyle = 'rgba(20, 24, 31, 0.82)';
  paint.beginPath();
  paint.roundRect(left, y, width + 2 * padding, height, Math.round(size * 0.3));
  paint.fill();
  paint.fillStyle = '#ffffff';
  paint.textBaseline = 'middle';
  paint.font = titleFont;
  paint.fillText(title, left + padding, y + size * 0.8);
  if (note) {
    paint.font = noteFont;
    paint.fillText(note, left + padding, y + size * 1.75);
  }
}

function skyCss() {
  return `linear-gradient(to bottom, ${SKY_STOPS.map(([at, colour]) => `${colour} ${at * 100}%`).join(', ')})`;
}

function makeSlot() {
  const scene = new THREE.Scene(); // no background: the sky is behind the canvas (skyCss)
  const skyAndGround = new THREE.HemisphereLight('#eef5ff', '#8f8877', 1.7);
  // Sun from the south-west, so the south and east faces seen from the default view differ.
  const sun = new THREE.DirectionalLight('#fff8ec', 2.1);
  sun.position.set(-0.45, 0.8, 0.55);
  const overlay = new THREE.Group();
  overlay.name = 'overlay';
  scene.add(skyAndGround, sun, sun.target, overlay);
  return { scene, model: null, overlay };
}

export class Stage {
  constructor(viewport, canvas) {
    this.viewport = viewport;
    this.canvas = canvas;
    this.software = isSoftwareRenderer();
    this.renderer = new THREE.WebGLRenderer({
      canvas, alpha: true, antialias: !this.software, powerPreference: 'high-performance',
    });
    this.renderer.setClearColor(0x000000, 0);
    canvas.style.background = skyCss();
    this.renderer.setPixelRatio(this.software ? 1 : Math.min(window.devicePixelRatio || 1, 2));
    this.renderer.info.autoReset = false; // two scenes per frame: count both
    this.camera = new THREE.PerspectiveCamera(35, 1, 1, 20000);
    this.camera.position.copy(SOUTH_EAST_OBLIQUE).multiplyScalar(500);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.screenSpacePanning = false; // pan along the ground, as on a map
    this.controls.maxPolarAngle = 85 * DEG;   // stay above the ground
    this.controls.zoomToCursor = true;
    this.controls.addEventListener('change', () => this.requestRender());
    this.slots = { left: makeSlot(), right: makeSlot() };
    this.mode = 'single';
    this.swipe = 0.5;
    this.width = 1;
    this.height = 1;
    this.sceneRadius = 500;
    this.frame = 0;
    this.lastStats = { drawCalls: 0, triangles: 0 };
    this.renderListeners = new Set();
    this.pendingFrame = 0;
    this.flight = null;
    this.raycaster = new THREE.Raycaster();
    this.raycaster.layers.set(PICK_LAYER); // element meshes, not the batches drawn for them
    this.resize();
    new ResizeObserver(() => {
      this.resize();
      // Nothing to draw before the first model: a frame of empty sky would only hold up the
      // page's start (its commit waits for the software renderer).
      if (this.shownSlots().some((slot) => this.slots[slot].model)) this.renderNow();
    }).observe(viewport);
  }

  // -- content -------------------------------------------------------------------------

  setModel(slotName, model) {
    const slot = this.slots[slotName];
    if (slot.model === model) return;
    if (slot.model) slot.scene.remove(slot.model.root);
    slot.model = model;
    if (model) {
      slot.scene.add(model.root);
      const size = model.siteBox.getSize(new THREE.Vector3());
      this.sceneRadius = Math.max(50, size.length() / 2);
      this.controls.maxDistance = this.sceneRadius * 8;
      this.controls.minDistance = 3;
    }
    this.requestRender();
  }

  /** Slots drawn in the current mode. */
  shownSlots() {
    return this.mode === 'single' ? ['right'] : ['left', 'right'];
  }

  setMode(mode) {
    this.mode = mode;
    // OrbitControls aims zoom-to-cursor over the whole canvas; in half-width views it would miss.
    this.controls.zoomToCursor = mode !== 'side';
    this.resize();
    this.requestRender();
  }

  setSwipe(fraction) {
    this.swipe = Math.min(1, Math.max(0, fraction));
    this.requestRender();
  }

  // -- layout --------------------------------------------------------------------------

  resize() {
    const rect = this.viewport.getBoundingClientRect();
    this.width = Math.max(1, Math.round(rect.width));
    this.height = Math.max(1, Math.round(rect.height));
    this.renderer.setSize(this.width, this.height, false);
    this.camera.aspect = this.viewportAspect();
    this.camera.updateProjectionMatrix();
  }

  viewportAspect() {
    const width = this.mode === 'side' ? this.width / 2 : this.width;
    return width / this.height;
  }

  /** [{slot, x, width, viewportX, viewportWidth}] in CSS pixels: what is drawn where. */
  layout() {
    const { width } = this;
    if (this.mode === 'side') {
      const half = Math.floor(width / 2);
      return [
        { slot: 'left', x: 0, width: half, viewportX: 0, viewportWidth: half },
        { slot: 'right', x: half, width: width - half, viewportX: half, viewportWidth: width - half },
      ];
    }
    if (this.mode === 'swipe') {
      const split = Math.round(width * this.swipe);
      return [
        { slot: 'left', x: 0, width: split, viewportX: 0, viewportWidth: width },
        { slot: 'right', x: split, width: width - split, viewportX: 0, viewportWidth: width },
      ];
    }
    return [{ slot: 'right', x: 0, width, viewportX: 0, viewportWidth: width }];
  }

  /** The layout entry under canvas x. */
  areaAt(x) {
    const areas = this.layout();
    return areas.find((area) => x >= area.x && x < area.x + area.width) ?? areas[areas.length - 1];
  }

  // -- rendering -----------------------------------------------------------------------

  requestRender() {
    if (this.pendingFrame) return;
    this.pendingFrame = requestAnimationFrame(() => {
      this.pendingFrame = 0;
      this.renderNow();
    });
  }

  /** Draw now, in this task (so a following readPixels sees this frame); a frame already
   * requested is then not drawn again. */
  renderNow() {
    if (this.pendingFrame) {
      cancelAnimationFrame(this.pendingFrame);
      this.pendingFrame = 0;
    }
    const { renderer, camera } = this;
    const aspect = this.viewportAspect();
    if (camera.aspect !== aspect) {
      camera.aspect = aspect;
    }
    this.updateClipping();
    renderer.info.reset();
    const areas = this.layout();
    renderer.setScissorTest(areas.length > 1);
    for (const area of areas) {
      if (area.width <= 0) continue;
      renderer.setViewport(area.viewportX, 0, area.viewportWidth, this.height);
      renderer.setScissor(area.x, 0, area.width, this.height);
      renderer.render(this.slots[area.slot].scene, camera);
    }
    renderer.setScissorTest(false);
    renderer.setViewport(0, 0, this.width, this.height);
    this.frame += 1;
    this.lastStats = { drawCalls: renderer.info.render.calls, triangles: renderer.info.render.triangles };
    for (const listener of this.renderListeners) listener(this);
  }

  onRender(listener) {
    this.renderListeners.add(listener);
  }

  /** Near and far planes that follow the zoom: depth precision where the eye is. */
  updateClipping() {
    const distance = this.camera.position.distanceTo(this.controls.target);
    this.camera.near = Math.min(20, Math.max(0.1, distance * 0.01));
    this.camera.far = distance * 10 + this.sceneRadius * 8;
    this.camera.updateProjectionMatrix();
  }

  /**
   * The view as a PNG data URL — what a visitor saves and shares, so it says what it shows:
   * the sky, the line between two states, each state's caption where the view labels are
   * (`captions[slot]`: {title, note}) and `title` in a band along the bottom. Rendered and
   * read in one task (the drawing buffer lasts no longer).
   */
  toPng({ title = '', captions = {} } = {}) {
    this.renderNow();
    const picture = document.createElement('canvas');
    picture.width = this.canvas.width;
    picture.height = this.canvas.height;
    const paint = picture.getContext('2d');
    const sky = paint.createLinearGradient(0, 0, 0, picture.height);
    for (const [at, colour] of SKY_STOPS) sky.addColorStop(at, colour);
    paint.fillStyle = sky;
    paint.fillRect(0, 0, picture.width, picture.height);
    paint.drawImage(this.canvas, 0, 0);
    paint.scale(picture.width / this.width, picture.height / this.height); // CSS pixels from here
    const size = Math.max(16, Math.round(this.height * 0.032));
    const areas = this.layout();
    for (const area of areas) {
      if (area.x > 0 && area.width > 0) {
        paint.fillStyle = '#ffffff';
        paint.fillRect(area.x - 2, 0, 4, this.height);
      }
    }
    for (const area of areas) {
      const caption = captions[area.slot];
      if (!caption?.title || area.width < 4 * size) continue;
      const right = this.mode === 'swipe' && area.slot === 'right';
      drawCaption(paint, caption, right ? area.x + area.width - 12 : area.x + 12, 12, { size, right });
    }
    if (title) {
      const band = Math.round(size * 1.7);
      paint.fillStyle = 'rgba(20, 24, 31, 0.82)';
      paint.fillRect(0, this.height - band, this.width, band);
      paint.fillStyle = '#ffffff';
      paint.font = `600 ${Math.round(size * 0.8)}px ${CAPTION_FONT}`;
      paint.textBaseline = 'middle';
      paint.fillText(title, 12, this.height - band / 2, this.width - 24);
    }
    return picture.toDataURL('image/png');
  }

  /** Render, then read an RGBA block (rows from the top) in the same task: what is seen there,
   * the sky behind the canvas included. */
  readPixels(x, y, width, height) {
    this.renderNow();
    const gl = this.renderer.getContext();
    const ratio = this.renderer.getPixelRatio();
    const px = Math.round(x * ratio);
    const pw = Math.max(1, Math.round(width * ratio));
    const ph = Math.max(1, Math.round(height * ratio));
    const py = gl.drawingBufferHeight - Math.round(y * ratio) - ph;
    const bottomUp = new Uint8Array(pw * ph * 4);
    gl.readPixels(px, py, pw, ph, gl.RGBA, gl.UNSIGNED_BYTE, bottomUp);
    const rows = new Uint8Array(bottomUp.length);
    const stride = pw * 4;
    const top = Math.round(y * ratio);
    for (let row = 0; row < ph; row += 1) {
      rows.set(bottomUp.subarray((ph - 1 - row) * stride, (ph - row) * stride), row * stride);
      // what is seen there: the canvas (premultiplied alpha) over the sky behind it
      const sky = skyAt((top + row + 0.5) / gl.drawingBufferHeight);
      for (let i = row * stride; i < (row + 1) * stride; i += 4) {
        const clear = 1 - rows[i + 3] / 255;
        for (let c = 0; c < 3; c += 1) rows[i + c] = Math.round(rows[i + c] + sky[c] * clear);
        rows[i + 3] = 255;
      }
    }
    return { width: pw, height: ph, data: Array.from(rows) };
  }

  stats() {
    let nodes = 0;
    let elements = 0;
    for (const slot of this.shownSlots()) {
      const model = this.slots[slot].model;
      if (!model) continue;
      model.root.traverse(() => {
        nodes += 1;
      });
      elements += model.elementCount;
    }
    return { ...this.lastStats, nodes, elements, frame: this.frame, mode: this.mode };
  }

  // -- picking and projection ----------------------------------------------------------

  /** The element (or marker) under canvas pixel (x, y): {slot, node, point} or null. */
  hitAt(x, y) {
    const area = this.areaAt(x);
    const model = this.slots[area.slot].model;
    if (!model) return null;
    this.camera.aspect = this.viewportAspect();
    this.camera.updateProjectionMatrix();
    const ndc = new THREE.Vector2(
      ((x - area.viewportX) / area.viewportWidth) * 2 - 1,
      -(y / this.height) * 2 + 1,
    );
    this.raycaster.setFromCamera(ndc, this.camera);
    const targets = [model.root, this.slots[area.slot].overlay];
    for (const hit of this.raycaster.intersectObjects(targets, true)) {
      if (!isShown(hit.object) || hit.object.userData.noPick) continue;
      const node = elementNodeOf(hit.object);
      if (node) return { slot: area.slot, node, point: hit.point };
    }
    return null;
  }

  /** Canvas pixel of a node's bounding-box centre as drawn in `slot`, or null if off screen. */
  screenOf(node, slot) {
    const box = new THREE.Box3().setFromObject(node);
    if (box.isEmpty()) return null;
    const centre = box.getCenter(new THREE.Vector3());
    this.camera.aspect = this.viewportAspect();
    this.camera.updateProjectionMatrix();
    this.camera.updateMatrixWorld();
    const ndc = centre.project(this.camera);
    if (Math.abs(ndc.x) > 1 || Math.abs(ndc.y) > 1 || ndc.z > 1) return null;
    const area = this.layout().find((entry) => entry.slot === slot) ?? this.layout()[0];
    return {
      x: area.viewportX + ((ndc.x + 1) / 2) * area.viewportWidth,
      y: ((1 - ndc.y) / 2) * this.height,
    };
  }

  // -- camera --------------------------------------------------------------------------

  /** Camera position and target [x, y, z, tx, ty, tz] (world metres). */
  pose() {
    const { position } = this.camera;
    const { target } = this.controls;
    return [position.x, position.y, position.z, target.x, target.y, target.z];
  }

  setPose([x, y, z, tx, ty, tz]) {
    this.camera.position.set(x, y, z);
    this.controls.target.set(tx, ty, tz);
    this.controls.update();
    this.requestRender();
  }

  /**
   * Look at `box` from `direction` (unit vector from target to camera; default the current
   * one), as close as keeps all its corners on screen. Animated unless `animate` is false.
   */
  fit(box, { direction = null, animate = true, margin = 0.92 } = {}) {
    const centre = box.getCenter(new THREE.Vector3());
    const toCamera = (direction ?? this.camera.position.clone().sub(this.controls.target)).clone().normalize();
    if (!Number.isFinite(toCamera.x) || toCamera.lengthSq() === 0) toCamera.copy(SOUTH_EAST_OBLIQUE);
    const corners = [];
    for (const x of [box.min.x, box.max.x]) for (const y of [box.min.y, box.max.y]) for (const z of [box.min.z, box.max.z]) {
      corners.push(new THREE.Vector3(x, y, z));
    }
    const probe = this.camera.clone();
    probe.aspect = this.viewportAspect();
    probe.near = 0.1;
    probe.updateProjectionMatrix();
    const fits = (distance) => {
      probe.position.copy(centre).addScaledVector(toCamera, distance);
      probe.lookAt(centre);
      probe.updateMatrixWorld();
      return corners.every((corner) => {
        const p = corner.clone().project(probe);
        return p.z < 1 && Math.abs(p.x) <= margin && Math.abs(p.y) <= margin;
      });
    };
    let near = 1;
    let far = Math.max(10, box.getSize(new THREE.Vector3()).length() * 20);
    for (let step = 0; step < 40; step += 1) {
      const middle = (near + far) / 2;
      if (fits(middle)) far = middle;
      else near = middle;
    }
    const position = centre.clone().addScaledVector(toCamera, far);
    return this.flyTo(position, centre, animate);
  }

  flyTo(position, target, animate = true) {
    if (this.flight) cancelAnimationFrame(this.flight);
    this.flight = null;
    if (!animate) {
      // drawn with the next frame (or by whoever calls renderNow first): on a software
      // renderer each frame of the community costs, and a jump is often followed by another
      this.camera.position.copy(position);
      this.controls.target.copy(target);
      this.controls.update();
      this.requestRender();
      return Promise.resolve();
    }
    const fromPosition = this.camera.position.clone();
    const fromTarget = this.controls.target.clone();
    const started = performance.now();
    const duration = 700;
    return new Promise((resolve) => {
      const step = (now) => {
        const progress = Math.min(1, (now - started) / duration);
        const eased = progress < 0.5 ? 2 * progress * progress : 1 - (-2 * progress + 2) ** 2 / 2;
        this.camera.position.lerpVectors(fromPosition, position, eased);
        this.controls.target.lerpVectors(fromTarget, target, eased);
        this.controls.update();
        this.renderNow();
        if (progress < 1) this.flight = requestAnimationFrame(step);
        else {
          this.flight = null;
          resolve();
        }
      };
      this.flight = requestAnimationFrame(step);
    });
  }
}

/** Whether a node and all its ancestors are visible (the raycaster does not check). */
function isShown(object) {
  for (let node = object; node; node = node.parent) if (!node.visible) return false;
  return true;
}
