// A few DOM helpers. Text always goes in as text nodes, never as HTML, so
// nothing a user sends can run in another user's page.
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const errors = () => document.getElementById("errors");

// Shows an error in words until dismissed (and for 15 s at most).
export function showError(words) {
  const item = h("p", { class: "error" }, String(words), " ",
    h("button", { type: "button", class: "link", onclick: () => item.remove() }, "Dismiss"));
  errors().append(item);
  setTimeout(() => item.remove(), 15000);
}

export function clearErrors() {
  errors().replaceChildren();
}

export function time(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { month: "short", day: "numeric" });
}
