// The network drawing: input features, hidden neurons with their thumbnails,
// links whose width and colour show each weight. Clicks become "edit" triggers.

import { NEGATIVE, POSITIVE, SVG, el } from "./dom.js";
import { paintPicture } from "./pixels.js";

const INPUT_X = 44; // room left of the input nodes for their labels
// first-visit notes on the drawing; a dismissed one stays dismissed in this browser
const CALLOUTS_KEY = "pg-callouts-dismissed";
const CALLOUTS = {
  neuron: "This is the output from one neuron. Hover to see it larger.",
  weights: "The outputs are mixed with varying weights, shown by the thickness of the lines. Click one to type its value.",
};

function dismissed() {
  try {
    return new Set(JSON.parse(window.localStorage.getItem(CALLOUTS_KEY) || "[]"));
  } catch {
    return new Set(); // storage blocked: show the notes, forget the dismissal
  }
}

function dismiss(name) {
  const names = dismissed();
  names.add(name);
  try {
    window.localStorage.setItem(CALLOUTS_KEY, JSON.stringify([...names]));
  } catch {
    // storage blocked: dismissed for this page only
  }
}

export class NetworkDrawing {
  constructor(box, trigger) {
    this.box = box;
    this.trigger = trigger;
    this.scale = 1; // line widths: 1.6 for a projector
  }

  build(net) {
    const box = this.box;
    box.innerHTML = "";
    const head = el("div", { class: "pg-net-head" }, box);
    const features = el("div", { class: "pg-col-head pg-features-head" }, head);
    // one line with the hidden layers' buttons after it: the drawing keeps its height
    features.innerHTML = "Features <span>· which properties do you want to feed in?</span>";
    const mk = (label, edit, title) => {
      const b = el("button", { class: "pg-btn", title }, head);
      b.textContent = label;
      b.onclick = () => this.trigger("edit", edit);
      return b;
    };
    mk("+", { op: "add_layer" }, "add a hidden layer");
    mk("−", { op: "remove_layer" }, "remove the last hidden layer");
    el("span", { class: "pg-net-title pg-col-head" }, head).textContent =
      `${net.hidden.length} hidden layer${net.hidden.length === 1 ? "" : "s"}`;
    const width = box.clientWidth || 560;
    const layers = net.hidden.length;
    const inputX = INPUT_X * this.scale; // room for the feature labels
    const colW = (width - inputX) / (layers + 2.2);
    const inputs = net.wide_input ? [{ name: "pixels", label: net.wide_input, on: true }]
      : net.features;
    const maxRows = Math.max(inputs.length, ...net.hidden, net.n_outputs);
    // wide layers (the digits) shrink their nodes to keep the drawing on one screen; a
    // projector gets larger neurons in a shorter drawing (the loss chart goes below it)
    const big = this.scale > 1;
    const rowH = big ? Math.min(60, 300 / maxRows) : Math.min(44, 420 / maxRows);
    const node = big ? Math.min(50, rowH - 4, colW * 0.6) : Math.min(34, rowH - 4);
    const height = maxRows * rowH + (big ? 30 : 70);
    // per-layer controls sit in HTML above the svg, aligned with the columns
    const controls = el("div", { class: "pg-layer-controls" }, box);
    controls.style.height = big ? "64px" : "48px";
    net.hidden.forEach((n, l) => {
      const c = el("div", { class: "pg-layer-ctl" }, controls);
      c.style.left = `${inputX + colW * (l + 1.1) - 18}px`;
      c.style.width = `${Math.min(big ? 110 : 96, colW - 6)}px`; // never over the next layer's
      const plus = el("button", { class: "pg-btn pg-small", title: "add a neuron" }, c);
      plus.textContent = "+";
      plus.onclick = () => this.trigger("edit", { op: "neurons", layer: l, delta: 1 });
      const minus = el("button", { class: "pg-btn pg-small", title: "remove a neuron" }, c);
      minus.textContent = "−";
      minus.onclick = () => this.trigger("edit", { op: "neurons", layer: l, delta: -1 });
      // named for screen readers too (a title alone is only a tooltip)
      const sel = el("select", { class: "pg-act", title: "activation of this layer",
        "aria-label": `activation of hidden layer ${l + 1}` }, c);
      for (const [name, title] of Object.entries(net.activations)) {
        const o = el("option", { value: name }, sel);
        o.textContent = title;
        if (name === net.activation[l]) o.selected = true;
      }
      sel.onchange = () => this.trigger("edit",
        { op: "layer_activation", layer: l, value: sel.value });
      el("div", { class: "pg-count" }, c).textContent = `${n} neuron${n === 1 ? "" : "s"}`;
    });
    const svg = el("svg", { width, height, class: "pg-svg" }, box, SVG);
    const linkLayer = el("g", {}, svg, SVG);
    const nodeLayer = el("g", {}, svg, SVG);
    const column = (count, x) => Array.from({ length: count }, (_, i) =>
      ({ x, y: 20 + (maxRows - count) * rowH / 2 + i * rowH }));
    // positions: inputs, hidden layers, outputs
    const pos = [column(inputs.length, inputX)];
    net.hidden.forEach((n, l) => pos.push(column(n, inputX + colW * (l + 1.1))));
    pos.push(column(net.n_outputs, inputX + colW * (layers + 1.1)));
    this.neuronImages = [];
    this.links = [];
    this.nodeTitles = [];
    this.outputImage = null;
    // input nodes: thumbnails; inactive features dimmed, click toggles
    const activeInputs = [];
    inputs.forEach((f, i) => {
      const p = pos[0][i];
      const g = el("g", { class: `pg-node pg-input ${f.on ? "on" : "off"}`,
        "data-name": f.name, "data-column": f.on ? (net.wide_input ? i : f.column) : "" },
      nodeLayer, SVG);
      if (f.png) el("image", { href: f.png, x: p.x, y: p.y, width: node, height: node }, g, SVG);
      el("rect", { x: p.x, y: p.y, width: node, height: node }, g, SVG);
      const t = net.wide_input ? el("text", { x: p.x, y: p.y - 4 }, g, SVG)
        : el("text", { x: p.x - 4, y: p.y + node / 2 + 4, "text-anchor": "end" }, g, SVG);
      t.textContent = f.label;
      el("title", {}, g, SVG).textContent = f.on ? `${f.label} (click to remove)`
        : `${f.label} (click to add)`;
      if (!net.wide_input) {
        g.style.cursor = "pointer";
        g.addEventListener("click", () =>
          this.trigger("edit", { op: "toggle_feature", value: f.name }));
      }
      // the first layer's weights follow the Config's feature order, not the menu's
      if (f.on) activeInputs[net.wide_input ? i : f.column] = p;
    });
    const sources = [activeInputs, ...pos.slice(1)];
    // links of layer l: from every source of layer l to every node of layer l + 1
    for (let l = 0; l < sources.length - 1; l++) {
      const rows = [];
      pos[l + 1].forEach((q, j) => {
        const row = [];
        sources[l].forEach((p, i) => {
          const x1 = p.x + node, y1 = p.y + node / 2, x2 = q.x, y2 = q.y + node / 2;
          const mid = (x1 + x2) / 2;
          const path = el("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
            class: "pg-link" }, linkLayer, SVG);
          path.setAttribute("data-link", `${l},${j},${i}`); // layer, to, from (weight index)
          path.addEventListener("click", (event) => this.editParam(event,
            { kind: "weight", layer: l, to: j, from: i }, `weight ${j + 1} ← ${i + 1}`));
          row.push({ path, title: el("title", {}, path, SVG) });
        });
        rows.push(row);
      });
      this.links.push(rows);
    }
    // hidden neurons and outputs
    this.biasMarks = [];
    for (let l = 1; l < pos.length; l++) {
      const images = [];
      const titles = [];
      const biases = [];
      this.biasMarks.push(biases);
      pos[l].forEach((p, j) => {
        const out = l === pos.length - 1;
        const g = el("g", { class: `pg-node ${out ? "pg-out" : "pg-hidden"}` }, nodeLayer, SVG);
        // the neuron's picture: a canvas the frames' palette indices are painted on
        const holder = el("foreignObject", { x: p.x, y: p.y, width: node, height: node },
          g, SVG);
        const image = el("canvas", { class: "pg-thumb" }, holder);
        image.style.width = image.style.height = `${node}px`;
        if (!out) images.push(image);
        else if (net.n_outputs === 1) this.outputImage = image; // the output over the plane
        const rect = el("rect", { x: p.x, y: p.y, width: node, height: node }, g, SVG);
        // the bias: a small square at the node's corner, coloured like a weight
        biases.push(el("rect", { class: "pg-bias", x: p.x - 4, y: p.y + node - 6,
          width: 7, height: 7 }, g, SVG));
        if (!out) {
          g.addEventListener("mouseenter", () => this.onHover && this.onHover([l - 1, j]));
          g.addEventListener("mouseleave", () => this.onHover && this.onHover(null));
        }
        g.addEventListener("click", (event) => this.editParam(event,
          { kind: "bias", layer: l - 1, to: j, from: 0 }, `bias of ${out ? "output" : "neuron"} ${j + 1}`));
        if (out && net.output_labels) { // one node per class: its colour and its name
          rect.setAttribute("style", `fill: ${net.output_colours[j]}; fill-opacity: 0.85`);
          const label = el("text", { x: p.x + node + 4, y: p.y + node / 2 + 4 }, g, SVG);
          label.textContent = net.output_labels[j];
        }
        titles.push(el("title", {}, g, SVG));
      });
      this.neuronImages.push(images);
      this.nodeTitles.push(titles);
    }
    if (this.callouts && net.hidden.length && !net.wide_input) {
      // an svg has no offsetTop: measure where it sits in the (relative) drawing box
      const top = svg.getBoundingClientRect().top - this.box.getBoundingClientRect().top;
      const first = pos[1][0];
      this.callout("neuron", first.x + node + 6, top + first.y);
      const from = sources[0].find(Boolean) || pos[0][0];
      this.callout("weights", (from.x + node + first.x) / 2 - 40,
        top + Math.max(...pos[0].map((p) => p.y)) + node + 8);
    }
  }

  callout(name, x, y) {
    if (dismissed().has(name)) return;
    const note = el("div", { class: "pg-callout", "data-testid": `pg-callout-${name}` }, this.box);
    note.style.left = `${x}px`;
    note.style.top = `${y}px`;
    el("span", {}, note).textContent = CALLOUTS[name];
    const close = el("button", { class: "pg-callout-close", title: "got it: hide this note",
      "aria-label": "hide this note" }, note);
    close.textContent = "×";
    close.onclick = () => {
      dismiss(name);
      note.remove();
    };
  }

  // the pixels' node has one link to each first-layer neuron: as thick as the mean size
  // of its 64 weights (their pattern is the neuron's picture)
  drawWideLinks(rows, w) {
    rows.forEach((row, j) => {
      const size = w[j].reduce((sum, v) => sum + Math.abs(v), 0) / w[j].length;
      const link = row[0];
      link.path.setAttribute("data-weight", size);
      link.path.setAttribute("stroke", "#888");
      link.path.setAttribute("stroke-width", (Math.min(0.4 + size * 8, 7) * this.scale).toFixed(2));
      link.path.setAttribute("stroke-opacity", "0.6");
      link.title.textContent = `mean |weight| ${size.toFixed(3)} over ${w[j].length} pixels`;
    });
  }

  // while paused, a click on a link or a node opens a box to type its weight or bias
  editParam(event, target, what) {
    if (!this.canEdit || !this.canEdit()) return;
    const pic = this.picture;
    if (!pic) return;
    const current = target.kind === "weight"
      ? pic.weights[target.layer][target.to][target.from] : pic.biases[target.layer][target.to];
    const box = this.box.getBoundingClientRect();
    const form = el("form", { class: "pg-param-edit", "data-testid": "pg-param-edit" }, this.box);
    form.style.left = `${event.clientX - box.left + 8}px`;
    form.style.top = `${event.clientY - box.top - 12}px`;
    el("span", {}, form).textContent = what;
    const input = el("input", { type: "number", step: "0.1", value: current }, form);
    let open = true; // removing the box blurs its input, which would close it again
    const close = () => { if (open) { open = false; form.remove(); } };
    const commit = () => {
      const value = Number(input.value);
      if (input.value !== "" && Number.isFinite(value)) this.onEdit({ ...target, value });
      close();
    };
    form.onsubmit = (e) => { e.preventDefault(); commit(); };
    input.onkeydown = (e) => {
      if (e.key === "Enter") { e.preventDefault(); commit(); }
      if (e.key === "Escape") close();
    };
    input.onblur = close;
    input.focus();
    input.select();
  }

  draw(pic) {
    this.picture = pic;
    if (!this.links || pic.weights.length !== this.links.length) return;
    pic.weights.forEach((w, l) => {
      const rows = this.links[l];
      if (l === 0 && rows[0] && rows[0].length === 1 && w[0].length > 1) {
        this.drawWideLinks(rows, w); // one link per neuron from "64 pixels"
        return;
      }
      if (rows.length !== w.length || (rows[0] && rows[0].length !== w[0].length)) return;
      rows.forEach((row, j) => row.forEach((link, i) => {
        const v = w[j][i];
        link.path.setAttribute("data-weight", v);
        link.path.setAttribute("stroke", v >= 0 ? POSITIVE : NEGATIVE);
        const width = Math.min(0.4 + Math.abs(v) * 1.6, 7) * this.scale;
        link.path.setAttribute("stroke-width", width.toFixed(2));
        link.path.setAttribute("stroke-opacity", Math.min(0.25 + Math.abs(v) / 2, 1).toFixed(2));
        link.title.textContent = `weight ${v.toFixed(3)}`;
      }));
    });
    if (this.outputImage) paintPicture(pic.boundary, this.outputImage);
    (pic.neurons || []).forEach((layer, l) => layer.forEach((picture, j) => {
      paintPicture(picture, this.neuronImages[l] && this.neuronImages[l][j]);
    }));
    pic.biases.forEach((b, l) => b.forEach((v, j) => {
      const mark = this.biasMarks[l] && this.biasMarks[l][j];
      if (mark) {
        mark.setAttribute("data-bias", v);
        mark.setAttribute("fill", v >= 0 ? POSITIVE : NEGATIVE);
        mark.setAttribute("fill-opacity", Math.min(0.2 + Math.abs(v) / 2, 1).toFixed(2));
      }
      const t = this.nodeTitles[l] && this.nodeTitles[l][j];
      const what = l === pic.biases.length - 1 ? "output" : `layer ${l + 1}, neuron ${j + 1}`;
      if (t) t.textContent = `${what}: bias ${v.toFixed(3)}`;
    }));
  }

}
