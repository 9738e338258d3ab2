/**
 * Draw a model in a few batched meshes — one per material — instead of one per element.
 *
 * A state has thousands of small elements; drawn one by one that is thousands of draw
 * calls per frame, which a software renderer (SwiftShader on a screening laptop without a
 * GPU) pays for dearly: about 1.4 s per frame for the sample community, against ~0.05 s
 * batched. The element nodes stay in the scene graph, each on the PICK_LAYER only: the
 * camera does not draw them, the raycaster still finds them, and their `visible` flags
 * still decide what goes into the batches. After a visibility change, call `rebatch`.
 * A highlighted element is drawn on its own, on top (pick.js).
 */
import * as THREE from 'three';

/** The layer element meshes live on: raycast against, never drawn by the camera. */
export const PICK_LAYER = 1;

/**
 * The material a batch is drawn with. A non-metallic PBR material without textures (every
 * material of a GLB from twin/export.py: walls, roofs, paving, green, glass, the change
 * colours) is drawn with its Lambert equivalent — the same colour, opacity, sides and flat
 * shading, diffuse light only — and a transparent one in a single pass. On a software
 * renderer (SwiftShader on a screening laptop) each shader costs a compilation and the
 * fragment shader is the frame's main cost: the sample community's first frame then needs
 * two shaders instead of seven, and is drawn in about 40 % of the time. What is lost is the
 * specular glint of glossy surfaces (glass), and back faces seen through transparent ones.
 */
const batchMaterials = new WeakMap(); // element material → batch material

export function batchMaterialOf(material) {
  if (!material.isMeshStandardMaterial || material.metalness > 0 || material.map || material.vertexColors) return material;
  if (!batchMaterials.has(material)) {
    const lambert = new THREE.MeshLambertMaterial({
      name: material.name, color: material.color, emissive: material.emissive,
      emissiveIntensity: material.emissiveIntensity, side: material.side, flatShading: material.flatShading,
      transparent: material.transparent, opacity: material.opacity, depthWrite: material.depthWrite,
      alphaTest: material.alphaTest, forceSinglePass: true,
    });
    batchMaterials.set(material, lambert);
  }
  return batchMaterials.get(material);
}

/** Whether a mesh can join a batch: plain indexed or not, position (and normal) only. */
function batchable(mesh) {
  if (!mesh.isMesh || mesh.isInstancedMesh || mesh.isSkinnedMesh || Array.isArray(mesh.material)) return false;
  const names = Object.keys(mesh.geometry.attributes);
  return names.every((name) => name === 'position' || name === 'normal') && !mesh.geometry.morphAttributes.position;
}

/** Put the element meshes under `root` on the pick layer; returns those that can be batched. */
export function prepareForBatching(root) {
  const meshes = [];
  root.traverse((node) => {
    if (!batchable(node)) return;
    node.layers.set(PICK_LAYER);
    meshes.push(node);
  });
  return meshes;
}

function shownInTree(mesh, root) {
  for (let node = mesh; node && node !== root; node = node.parent) if (!node.visible) return false;
  return true;
}

/** One merged mesh (world coordinates, identity matrix) per material of the shown meshes. */
function mergeByMaterial(meshes, root) {
  const byMaterial = new Map();
  for (const mesh of meshes) {
    if (!shownInTree(mesh, root)) continue;
    if (!byMaterial.has(mesh.material)) byMaterial.set(mesh.material, []);
    byMaterial.get(mesh.material).push(mesh);
  }
  const merged = [];
  const point = new THREE.Vector3();
  const normalMatrix = new THREE.Matrix3();
  for (const [material, group] of byMaterial) {
    const withNormals = group.every((mesh) => mesh.geometry.attributes.normal);
    let vertexCount = 0;
    let indexCount = 0;
    for (const mesh of group) {
      const geometry = mesh.geometry;
      vertexCount += geometry.attributes.position.count;
      indexCount += geometry.index ? geometry.index.count : geometry.attributes.position.count;
    }
    const positions = new Float32Array(vertexCount * 3);
    const normals = withNormals ? new Float32Array(vertexCount * 3) : null;
    const indices = vertexCount > 65535 ? new Uint32Array(indexCount) : new Uint16Array(indexCount);
    let vertexOffset = 0;
    let indexOffset = 0;
    for (const mesh of group) {
      const geometry = mesh.geometry;
      const position = geometry.attributes.position;
      const matrix = mesh.matrixWorld;
      for (let i = 0; i < position.count; i += 1) {
        point.fromBufferAttribute(position, i).applyMatrix4(matrix);
        point.toArray(positions, (vertexOffset + i) * 3);
      }
      if (normals) {
        normalMatrix.getNormalMatrix(matrix);
        const normal = geometry.attributes.normal;
        for (let i = 0; i < normal.count; i += 1) {
          point.fromBufferAttribute(normal, i).applyMatrix3(normalMatrix).normalize();
          point.toArray(normals, (vertexOffset + i) * 3);
        }
      }
      if (geometry.index) {
        const source = geometry.index.array;
        for (let i = 0; i < geometry.index.count; i += 1) indices[indexOffset + i] = source[i] + vertexOffset;
        indexOffset += geometry.index.count;
      } else {
        for (let i = 0; i < position.count; i += 1) indices[indexOffset + i] = vertexOffset + i;
        indexOffset += position.count;
      }
      vertexOffset += position.count;
    }
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute('position', new THREE.BufferAttribute(positions, 3));
    if (normals) geometry.setAttribute('normal', new THREE.BufferAttribute(normals, 3));
    geometry.setIndex(new THREE.BufferAttribute(indices, 1));
    geometry.computeBoundingSphere();
    geometry.computeBoundingBox();
    const batch = new THREE.Mesh(geometry, batchMaterialOf(material));
    batch.name = `batch ${material.name || material.uuid}`;
    batch.userData = { role: 'batch', members: group.length };
    batch.matrixAutoUpdate = false;
    // Transparent batches (glass, ghosts) after the opaque ones, as three sorts them anyway.
    merged.push(batch);
  }
  return merged;
}

/**
 * (Re)build the batches of `model` from its shown element meshes. `model.batchable` holds
 * the meshes from prepareForBatching; the batches hang in `model.batchGroup`.
 */
export function rebatch(model) {
  if (!model.batchGroup) {
    model.batchGroup = new THREE.Group();
    model.batchGroup.name = 'batches';
    model.batchGroup.userData = { role: 'batches' };
    model.batchGroup.matrixAutoUpdate = false;
    model.root.add(model.batchGroup);
  }
  for (const old of model.batchGroup.children) old.geometry.dispose();
  model.batchGroup.clear();
  const batches = mergeByMaterial(model.batchable, model.root);
  if (batches.length) model.batchGroup.add(...batches);
  model.batchGroup.updateMatrixWorld(true);
  return batches.length;
}
