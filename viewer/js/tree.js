/**
 * The spatial tree in the side panel: site → building → storey, each with the number of
 * elements below it, and the elements held directly by the site grouped by layer (roads,
 * drainage, green...). Clicking a name flies the camera to it.
 */
import { t, className, onLanguageChange } from './i18n.js';

export class SpatialTree {
  /** `onGo(nodes, globalId)` is called with the three.js nodes to fly to. */
  constructor(root, onGo) {
    this.root = root;
    this.onGo = onGo;
    this.tree = [];
    onLanguageChange(() => this.render(this.tree));
  }

  render(tree) {
    this.tree = tree ?? [];
    const list = document.createElement('ul');
    list.className = 'tree';
    for (const node of this.tree) list.append(this.item(node, 0));
    this.root.replaceChildren(list);
  }

  item(node, depth) {
    const li = document.createElement('li');
    const hasChildren = node.children.length > 0 || node.loose.size > 0;
    const row = this.row(node.name || className(node.ifcClass), node.count, () => this.onGo([node.object], node.globalId));
    row.dataset.globalId = node.globalId;
    if (node.diffStatus === 'removed') row.classList.add('removed');
    // Storeys are leaves: their elements are counted, not listed (a block has hundreds).
    if (!hasChildren || node.ifcClass === 'IfcBuildingStorey') {
      li.append(row);
      return li;
    }
    const details = document.createElement('details');
    details.open = depth === 0;
    const summary = document.createElement('summary');
    summary.append(row);
    details.append(summary);
    const children = document.createElement('ul');
    for (const child of node.children) children.append(this.item(child, depth + 1));
    for (const [group, elements] of node.loose) {
      const groupItem = document.createElement('li');
      groupItem.append(this.row(t(`layer.${group}`), elements.length, () => this.onGo(elements, null)));
      children.append(groupItem);
    }
    details.append(children);
    li.append(details);
    return li;
  }

  row(label, count, go) {
    const row = document.createElement('span');
    row.className = 'tree-row';
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'tree-go';
    button.title = t('tree.flyTo');
    button.textContent = label;
    button.addEventListener('click', (event) => {
      event.preventDefault(); // inside <summary>: go there, do not fold
      go();
    });
    const number = document.createElement('span');
    number.className = 'tree-count';
    number.textContent = t('tree.elements', { n: count });
    row.append(button, number);
    return row;
  }
}
