/**
 * A state's GLB as a `Model`: the three.js scene graph plus the indexes the viewer needs —
 * element nodes by GlobalId, layer group and change status of each, the spatial tree
 * (site → building → storey → elements) and the site's bounding box.
 *
 * GLB layout (twin/export.py): one root node mapping twin coordinates (x east, y north,
 * z up) to glTF's y-up frame; below it spatial nodes (extras {globalId, ifcClass, name})
 * and element nodes (extras {globalId, ifcClass, name, storey, building, predefinedType,
 * status, diffStatus?}); a "context" group (extras.role "context") with the city around.
 */
import * as THREE from 'three';
import { prepareForBatching } from './batch.js';
import { readGlb } from './glb.js';
import { layerGroupOf } from './layers.js';
import { takePrefetched } from './prefetch.js';

let gltfLoader = null;

/** The scene of a GLB read by three's GLTFLoader, loaded (170 kB of modules) only when a file
 * needs it: twin/export.py's GLBs never do (glb.js reads them). */
async function readWithGltfLoader(bytes) {
  if (!gltfLoader) {
    const { GLTFLoader } = await import('three/addons/loaders/GLTFLoader.js');
    gltfLoader ??= new GLTFLoader();
  }
  return (await gltfLoader.parseAsync(bytes, '')).scene;
}

/** Element extras always carry a `storey` key (null outside buildings); spatial ones never do. */
export function isElement(extras) {
  return Boolean(extras.globalId) && 'storey' in extras;
}

export function isSpatial(extras) {
  return Boolean(extras.globalId) && !('storey' in extras) && extras.role !== 'body';
}

/** The node of the element (or spatial element) that `object` is part of, or null. */
export function elementNodeOf(object) {
  for (let node = object; node; node = node.parent) {
    const extras = node.userData;
    if (extras.role === 'service-marker') return node;
    if (extras.globalId) return node;
  }
  return null;
}

async function fetchGlb(url) {
  const response = await fetch(url);
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(`${url}: ${body?.error ?? `${response.status} ${response.statusText}`}`);
  }
  return response.arrayBuffer();
}

/** The Model of the GLB at `url` (from the bytes prefetch.js fetched early, when it did), read
 * by glb.js, or by three's GLTFLoader when the file uses more of glTF than twin/export.py does. */
export async function loadModel(url, { stateName, diffBase = null } = {}) {
  const bytes = (await takePrefetched(url)) ?? (await fetchGlb(url));
  performance.mark('twin:glb-fetched');
  const scene = readGlb(bytes, url) ?? (await readWithGltfLoader(bytes));
  performance.mark('twin:glb-read');
  const model = new Model(scene, { url, stateName, diffBase });
  performance.mark('twin:model-built');
  return model;
}

export class Model {
  constructor(scene, { url, stateName, diffBase }) {
    this.root = scene;
    this.url = url;
    this.stateName = stateName;
    this.diffBase = diffBase;
    this.extras = scene.userData ?? {};
    this.colouredByChange = this.extras.colourBy === 'diff';
    this.twinRoot = scene.children.find((child) => child.userData.role === 'twin-root') ?? scene;
    this.byGlobalId = new Map();
    this.tagged = [];
    this.layerCounts = {};
    this.diffCounts = {};
    this.elementCount = 0;
    this.index();
    // Nothing in a state moves: compute matrices once instead of on every frame.
    scene.updateMatrixWorld(true);
    scene.traverse((node) => {
      node.matrixAutoUpdate = false;
    });
    this.siteBox = this.computeSiteBox();
    this.tree = this.buildTree();
    // Drawn in batches (batch.js), built when the layer and change toggles are applied.
    this.batchable = prepareForBatching(this.root);
    this.visibilityKey = null;
    this.ground = this.addGround();
  }

  index() {
    this.root.traverse((node) => {
      const extras = node.userData;
      if (extras.role === 'context' && node.parent?.userData.role !== 'context') {
        extras.layerGroup = 'context';
        this.tagged.push(node);
        return;
      }
      if (isElement(extras) || extras.role === 'body') {
        extras.layerGroup = layerGroupOf(extras);
        this.tagged.push(node);
        if (extras.role !== 'body') {
          this.byGlobalId.set(extras.globalId, node);
          this.elementCount += 1;
          this.layerCounts[extras.layerGroup] = (this.layerCounts[extras.layerGroup] ?? 0) + 1;
          if (extras.diffStatus) this.diffCounts[extras.diffStatus] = (this.diffCounts[extras.diffStatus] ?? 0) + 1;
        }
      } else if (isSpatial(extras) && !this.byGlobalId.has(extras.globalId)) {
        this.byGlobalId.set(extras.globalId, node);
      }
    });
    const context = this.tagged.find((node) => node.userData.layerGroup === 'context');
    if (context) this.layerCounts.context = context.children.length;
  }

  /** The site's box in world (glTF y-up) coordinates: the IfcSite subtree, else all elements. */
  computeSiteBox() {
    const box = new THREE.Box3();
    let site = null;
    this.root.traverse((node) => {
      if (!site && node.userData.ifcClass === 'IfcSite' && isSpatial(node.userData)) site = node;
    });
    if (site) box.setFromObject(site);
    if (box.isEmpty()) {
      for (const node of this.tagged) if (node.userData.layerGroup !== 'context') box.expandByObject(node);
    }
    if (box.isEmpty()) box.setFromObject(this.root);
    if (box.isEmpty()) box.set(new THREE.Vector3(-50, 0, -50), new THREE.Vector3(50, 10, 50));
    return box;
  }

  /**
   * Spatial tree from the nodes: {object, globalId, ifcClass, name, children, loose, count},
   * where `loose` groups the elements held directly by that spatial node by layer group
   * and `count` is the number of elements below it. Starts below IfcProject.
   */
  buildTree() {
    const nodeOf = (object) => {
      const extras = object.userData;
      const node = { object, globalId: extras.globalId, ifcClass: extras.ifcClass, name: extras.name,
        diffStatus: extras.diffStatus ?? null, children: [], loose: new Map(), count: 0 };
      for (const child of object.children) {
        if (isSpatial(child.userData)) {
          const sub = nodeOf(child);
          node.children.push(sub);
          node.count += sub.count;
        } else if (isElement(child.userData)) {
          const group = child.userData.layerGroup;
          if (!node.loose.has(group)) node.loose.set(group, []);
          node.loose.get(group).push(child);
          node.count += 1;
        }
      }
      return node;
    };
    const tops = [];
    const visit = (object) => {
      if (isSpatial(object.userData)) {
        tops.push(nodeOf(object));
        return;
      }
      for (const child of object.children) visit(child);
    };
    visit(this.root);
    return tops.flatMap((top) => (top.ifcClass === 'IfcProject' ? top.children : [top]));
  }

  /** A ground sheet under the site, part of the surroundings; 15 cm below twin z = 0 so the
   * site's own paving and green (at z ≥ 0) never fight it for depth. */
  addGround() {
    const size = this.siteBox.getSize(new THREE.Vector3());
    const centre = this.siteBox.getCenter(new THREE.Vector3());
    const extent = Math.max(size.x, size.z, 100) * 4;
    const ground = new THREE.Mesh(
      new THREE.PlaneGeometry(extent, extent),
      // drawn as the batches are (batch.js), so with the same shader: flat-shaded Lambert
      new THREE.MeshLambertMaterial({ color: '#d3cfc2', flatShading: true, side: THREE.DoubleSide }),
    );
    // PlaneGeometry lies in x-y facing +z: in twin coordinates that is the ground, facing up.
    ground.position.set(centre.x, -centre.z, -0.15);
    ground.userData = { role: 'ground', layerGroup: 'context', noPick: true };
    ground.updateMatrix();
    ground.matrixAutoUpdate = false;
    this.twinRoot.add(ground);
    ground.updateMatrixWorld(true);
    this.tagged.push(ground);
    return ground;
  }

  /** Bounding box (world coordinates) of some nodes. */
  static boxOf(nodes) {
    const box = new THREE.Box3();
    for (const node of nodes) box.expandByObject(node);
    return box;
  }

  dispose() {
    this.root.traverse((node) => {
      if (node.geometry) node.geometry.dispose();
    });
  }
}
