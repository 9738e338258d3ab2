/**
 * Picking: click → element under the pointer → highlight it (in every shown state that
 * has it, so side-by-side shows the same element on both sides) → ask the server for its
 * properties → property panel.
 */
import * as THREE from 'three';
import { fetchElement } from './api.js';
import { t, titleOf } from './i18n.js';
import { state, stateInfo } from './state.js';

// Cyan: no class colour and no change colour (greens, reds, oranges, yellow, grey) is near it.
const HIGHLIGHT = new THREE.Color('#19d9ff');

export class Picker {
  constructor(stage, panel) {
    this.stage = stage;
    this.panel = panel;
    this.highlighted = [];
    this.highlightOf = new Map(); // original material → highlighted clone
    this.token = 0;
    this.selected = null;
  }

  /** Select what is under canvas pixel (x, y); resolves to its GlobalId (null for nothing). */
  async pickAt(x, y) {
    const hit = this.stage.hitAt(x, y);
    if (!hit) {
      this.clear();
      return null;
    }
    return this.selectNode(hit.node, hit.slot);
  }

  /** Select an element by GlobalId in the shown states (right side first). */
  async pickGlobalId(globalId) {
    for (const slot of ['right', 'left']) {
      if (!this.stage.shownSlots().includes(slot)) continue;
      const node = this.stage.slots[slot].model?.byGlobalId.get(globalId);
      if (node) return this.selectNode(node, slot);
    }
    this.clear();
    return null;
  }

  async selectNode(node, slot) {
    const extras = node.userData;
    const globalId = extras.globalId ?? null;
    const token = ++this.token;
    this.selected = { globalId, slot };
    this.highlight(globalId, node);
    this.panel.showLoading(extras);
    const model = this.stage.slots[slot].model;
    if (extras.role === 'service-marker') {
      this.panel.showElement(extras.feature, { stateTitle: titleOf(stateInfo(model?.stateName)) });
      return globalId;
    }
    // Asked with the diff base, the server also answers for removed elements (ghosts).
    const stateName = model?.stateName;
    try {
      const element = await fetchElement(state.project.name, stateName, globalId, model?.diffBase ?? null);
      if (token !== this.token) return globalId;
      const building = element.building ?? extras.building;
      let buildingInfo = null;
      if (building && !element.spatial) {
        buildingInfo = await fetchElement(state.project.name, element.fromState ?? stateName, building).catch(() => null);
        if (token !== this.token) return globalId;
      }
      this.panel.showElement(element, {
        stateTitle: titleOf(stateInfo(element.fromState ?? stateName)),
        buildingName: model?.byGlobalId.get(building)?.userData.name ?? building,
        diffStatus: element.diffStatus ?? extras.diffStatus ?? null,
        building: buildingInfo,
      });
    } catch (error) {
      if (token !== this.token) return globalId;
      this.panel.showError(extras, error.status === 404 ? t('panel.notFound') : error.message);
    }
    return globalId;
  }

  clear() {
    this.token += 1;
    this.selected = null;
    this.highlight(null);
    this.panel.hide();
  }

  /** Re-apply the highlight after the shown models changed. */
  refresh() {
    if (this.selected) this.highlight(this.selected.globalId);
  }

  highlight(globalId, fallbackNode = null) {
    for (const mesh of this.highlighted) {
      mesh.material = mesh.userData.plainMaterial;
      mesh.layers.mask = mesh.userData.plainLayers;
    }
    this.highlighted = [];
    if (globalId || fallbackNode) {
      const nodes = new Set();
      for (const slot of this.stage.shownSlots()) {
        const node = globalId ? this.stage.slots[slot].model?.byGlobalId.get(globalId) : null;
        if (node) nodes.add(node);
      }
      if (fallbackNode) nodes.add(fallbackNode);
      for (const node of nodes) {
        node.traverse((mesh) => {
          if (!mesh.isMesh) return;
          mesh.userData.plainMaterial = mesh.material;
          mesh.userData.plainLayers = mesh.layers.mask;
          mesh.material = this.brightVersionOf(mesh.material);
          mesh.layers.enable(0); // drawn on its own, over its copy in the batch (batch.js)
          this.highlighted.push(mesh);
        });
      }
    }
    this.stage.requestRender();
  }

  brightVersionOf(material) {
    if (!this.highlightOf.has(material)) {
      const bright = material.clone();
      if (bright.color) bright.color.copy(HIGHLIGHT);
      if (bright.emissive) {
        bright.emissive.copy(HIGHLIGHT);
        bright.emissiveIntensity = 0.45;
      }
      if (bright.transparent) bright.opacity = Math.max(bright.opacity, 0.85);
      // Win the depth test against the same surface in the batch.
      bright.polygonOffset = true;
      bright.polygonOffsetFactor = -1;
      bright.polygonOffsetUnits = -4;
      this.highlightOf.set(material, bright);
    }
    return this.highlightOf.get(material);
  }
}
