// Small DOM helpers. Data is never written as HTML: every text goes through
// textContent (el() appends strings as text nodes).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

export function setAttr(node, name, value) {
  if (node && node.getAttribute(name) !== value) node.setAttribute(name, value);
}

export function fmt(value, digits = 0) {
  return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '–';
}

export function signed(value, digits = 1) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return `${value > 0 ? '+' : ''}${value.toFixed(digits)}`;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function byTestId(root) {
  const fields = {};
  for (const node of root.querySelectorAll('[data-testid]')) fields[node.dataset.testid] = node;
  return fields;
}
