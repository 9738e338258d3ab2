/**
 * A direct reader for the GLB files twin/export.py writes: untextured PBR materials, triangle
 * meshes of positions (and normals) with indices, a tree of nodes carrying extras. It builds
 * the same three.js objects as three's GLTFLoader would — a node with a one-primitive mesh is
 * that Mesh, extras become userData, a primitive without normals gets a flat-shaded copy of its
 * material, geometry bounds come from the accessors' min/max — in a fraction of the time:
 * no promise per glTF object, no extension hooks, no name bookkeeping. That time is spent
 * before the first frame of every state a visitor opens.
 *
 * Anything else glTF allows (textures, extensions, sparse or interleaved accessors, skins,
 * animations, other primitive modes or attributes, external buffers) makes `readGlb` return
 * null, and the caller hands the file to GLTFLoader instead.
 */
import * as THREE from 'three';

const GLB_MAGIC = 0x46546c67; // 'glTF'
const CHUNK_JSON = 0x4e4f534a;
const CHUNK_BIN = 0x004e4942;
const ARRAY_OF = {
  5120: Int8Array, 5121: Uint8Array, 5122: Int16Array, 5123: Uint16Array, 5125: Uint32Array, 5126: Float32Array,
};
const ITEM_SIZE = { SCALAR: 1, VEC2: 2, VEC3: 3, VEC4: 4 };
const TRIANGLES = 4;
const ATTRIBUTES = { POSITION: 'position', NORMAL: 'normal' };

/** {json, bin: Uint8Array | null} of a GLB; throws on a file that is not one. */
export function splitGlb(buffer, url = 'GLB') {
  const view = new DataView(buffer);
  if (buffer.byteLength < 20 || view.getUint32(0, true) !== GLB_MAGIC) throw new Error(`${url}: not a GLB file`);
  if (view.getUint32(4, true) !== 2) throw new Error(`${url}: glTF version ${view.getUint32(4, true)}, expected 2`);
  let json = null;
  let bin = null;
  for (let offset = 12; offset + 8 <= buffer.byteLength;) {
    const length = view.getUint32(offset, true);
    const type = view.getUint32(offset + 4, true);
    const body = new Uint8Array(buffer, offset + 8, length);
    if (type === CHUNK_JSON) json = JSON.parse(new TextDecoder().decode(body));
    else if (type === CHUNK_BIN) bin = body;
    offset += 8 + length;
  }
  if (!json) throw new Error(`${url}: GLB without a JSON chunk`);
  return { json, bin };
}

/** Whether every part of the file is one this reader builds (else GLTFLoader's job). */
function supported(json, bin) {
  const none = (list) => !list || list.length === 0;
  if (!none(json.extensionsUsed) || !none(json.images) || !none(json.textures) || !none(json.animations)
      || !none(json.skins) || !none(json.cameras)) return false;
  if ((json.buffers ?? []).length > 1 || json.buffers?.[0]?.uri !== undefined || (json.buffers?.length && !bin)) return false;
  for (const accessor of json.accessors ?? []) {
    if (accessor.sparse || accessor.bufferView === undefined || !ARRAY_OF[accessor.componentType]) return false;
    if (!(accessor.type in ITEM_SIZE) || accessor.normalized) return false;
    const stride = json.bufferViews[accessor.bufferView].byteStride;
    if (stride !== undefined && stride !== ITEM_SIZE[accessor.type] * ARRAY_OF[accessor.componentType].BYTES_PER_ELEMENT) return false;
  }
  for (const mesh of json.meshes ?? []) {
    for (const primitive of mesh.primitives) {
      if ((primitive.mode ?? TRIANGLES) !== TRIANGLES || primitive.targets || primitive.extensions) return false;
      if (Object.keys(primitive.attributes).some((name) => !(name in ATTRIBUTES))) return false;
    }
  }
  for (const material of json.materials ?? []) {
    const pbr = material.pbrMetallicRoughness ?? {};
    if (material.extensions || material.normalTexture || material.occlusionTexture || material.emissiveTexture
        || pbr.baseColorTexture || pbr.metallicRoughnessTexture) return false;
  }
  return true;
}

function withExtras(object, definition) {
  if (definition.extras && typeof definition.extras === 'object') Object.assign(object.userData, definition.extras);
  return object;
}

function readMaterial(definition) {
  const pbr = definition.pbrMetallicRoughness ?? {};
  const [r, g, b, a] = pbr.baseColorFactor ?? [1, 1, 1, 1];
  const blend = definition.alphaMode === 'BLEND';
  const material = new THREE.MeshStandardMaterial({
    color: new THREE.Color().setRGB(r, g, b, THREE.LinearSRGBColorSpace),
    opacity: a,
    metalness: pbr.metallicFactor ?? 1,
    roughness: pbr.roughnessFactor ?? 1,
    side: definition.doubleSided ? THREE.DoubleSide : THREE.FrontSide,
    transparent: blend,
    depthWrite: !blend,
    alphaTest: definition.alphaMode === 'MASK' ? definition.alphaCutoff ?? 0.5 : 0,
  });
  if (definition.emissiveFactor) material.emissive.setRGB(...definition.emissiveFactor, THREE.LinearSRGBColorSpace);
  material.name = definition.name ?? '';
  return withExtras(material, definition);
}

/**
 * The scene (a THREE.Group) of a GLB from twin/export.py, or null when the file uses what this
 * reader does not build (see the module's docstring). `url` names the file in errors.
 */
export function readGlb(buffer, url = 'GLB') {
  const { json, bin } = splitGlb(buffer, url);
  if (!supported(json, bin)) return null;

  const attributes = new Map(); // accessor index → BufferAttribute (shared, as GLTFLoader does)
  const attribute = (index) => {
    if (!attributes.has(index)) {
      const accessor = json.accessors[index];
      const view = json.bufferViews[accessor.bufferView];
      const TypedArray = ARRAY_OF[accessor.componentType];
      const offset = bin.byteOffset + (view.byteOffset ?? 0) + (accessor.byteOffset ?? 0);
      const length = accessor.count * ITEM_SIZE[accessor.type];
      const array = offset % TypedArray.BYTES_PER_ELEMENT === 0
        ? new TypedArray(bin.buffer, offset, length)
        : new TypedArray(bin.buffer.slice(offset, offset + length * TypedArray.BYTES_PER_ELEMENT));
      attributes.set(index, new THREE.BufferAttribute(array, ITEM_SIZE[accessor.type]));
    }
    return attributes.get(index);
  };

  const materials = (json.materials ?? []).map(readMaterial);
  const flatMaterials = new Map(); // material → its flat-shaded copy, for primitives without normals
  let defaultMaterial = null;
  const materialOf = (primitive, geometry) => {
    let material = materials[primitive.material];
    if (!material) {
      defaultMaterial ??= new THREE.MeshStandardMaterial({ color: 0xffffff, metalness: 1, roughness: 1 });
      material = defaultMaterial;
    }
    if (geometry.attributes.normal) return material;
    if (!flatMaterials.has(material)) {
      const flat = material.clone();
      flat.flatShading = true;
      flatMaterials.set(material, flat);
    }
    return flatMaterials.get(material);
  };

  const geometries = new Map(); // mesh index → [BufferGeometry per primitive]
  const geometriesOf = (meshIndex) => {
    if (!geometries.has(meshIndex)) {
      geometries.set(meshIndex, json.meshes[meshIndex].primitives.map((primitive) => {
        const geometry = new THREE.BufferGeometry();
        for (const [name, index] of Object.entries(primitive.attributes)) geometry.setAttribute(ATTRIBUTES[name], attribute(index));
        if (primitive.indices !== undefined) geometry.setIndex(attribute(primitive.indices));
        const position = json.accessors[primitive.attributes.POSITION];
        if (position?.min && position?.max) {
          geometry.boundingBox = new THREE.Box3(new THREE.Vector3(...position.min), new THREE.Vector3(...position.max));
          geometry.boundingSphere = geometry.boundingBox.getBoundingSphere(new THREE.Sphere());
        }
        return withExtras(geometry, primitive);
      }));
    }
    return geometries.get(meshIndex);
  };

  const nodeObject = (index) => {
    const definition = json.nodes[index];
    let object;
    if (definition.mesh !== undefined) {
      const meshDefinition = json.meshes[definition.mesh];
      const meshes = geometriesOf(definition.mesh).map((geometry, i) => {
        const mesh = new THREE.Mesh(geometry, materialOf(meshDefinition.primitives[i], geometry));
        mesh.name = meshDefinition.name ?? '';
        return mesh;
      });
      object = meshes.length === 1 ? meshes[0] : new THREE.Group().add(...meshes);
      if (meshes.length === 1) withExtras(object, meshDefinition);
    } else {
      object = new THREE.Object3D();
    }
    if (definition.name !== undefined) {
      object.name = THREE.PropertyBinding.sanitizeNodeName(definition.name);
      object.userData.name = definition.name; // as GLTFLoader does; extras may say otherwise
    }
    withExtras(object, definition);
    if (definition.matrix) object.applyMatrix4(new THREE.Matrix4().fromArray(definition.matrix));
    else {
      if (definition.translation) object.position.fromArray(definition.translation);
      if (definition.rotation) object.quaternion.fromArray(definition.rotation);
      if (definition.scale) object.scale.fromArray(definition.scale);
    }
    for (const child of definition.children ?? []) object.add(nodeObject(child));
    return object;
  };

  const children = new Set((json.nodes ?? []).flatMap((node) => node.children ?? []));
  const roots = (json.nodes ?? []).map((_, i) => i).filter((i) => !children.has(i));
  const sceneDefinition = json.scenes?.[json.scene ?? 0] ?? { nodes: roots };
  const scene = new THREE.Group();
  if (sceneDefinition.name) scene.name = THREE.PropertyBinding.sanitizeNodeName(sceneDefinition.name);
  withExtras(scene, sceneDefinition);
  for (const index of sceneDefinition.nodes ?? []) scene.add(nodeObject(index));
  return scene;
}
