// Own points on the output plot: pick a class (or, for regression, a value) and click
// to add a point there, or pick "erase" and drag a box over points to remove them.
// Each action is an edit for the page (engine/edits.py: add_point, erase_points);
// training goes on with the new points, which come back in the next frame.

import { el } from "./dom.js";

export class DrawTool {
  constructor(select, plot, onEdit) {
    Object.assign(this, { select, plot, onEdit });
    this.select.addEventListener("change", () => this.arm());
    this.plot.addEventListener("click", (event) => this.click(event));
  }

  // modes from the page: [{label, field, value}] (field "label": a class, "value": a
  // target); the plane is [-extent, extent]², as the figure's fixed axes
  setup(modes, extent) {
    this.extent = extent;
    this.select.innerHTML = "";
    el("option", { value: "" }, this.select).textContent = "off";
    for (const [i, mode] of (modes || []).entries()) {
      el("option", { value: String(i) }, this.select).textContent = `add ${mode.label}`;
    }
    el("option", { value: "erase" }, this.select).textContent = "erase (drag a box)";
    this.modes = modes || [];
    this.select.closest(".pg-draw").hidden = !modes;
    this.hooked = false;
    this.arm();
  }

  arm() {
    const mode = this.select.value;
    this.plot.classList.toggle("pg-drawing", mode !== "");
    if (!this.plot._fullLayout) return;
    Plotly.relayout(this.plot, { dragmode: mode === "erase" ? "select" : false,
      selections: [] });
    if (!this.hooked) {
      this.hooked = true;
      this.plot.on("plotly_selected", (event) => this.erase(event));
    }
  }

  click(event) {
    const mode = this.modes[Number(this.select.value)];
    if (!mode || this.select.value === "" || this.select.value === "erase") return;
    const area = this.plot.querySelector(".nsewdrag");
    if (!area) return;
    const box = area.getBoundingClientRect();
    const fx = (event.clientX - box.left) / box.width;
    const fy = (event.clientY - box.top) / box.height;
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return;
    const round = (v) => Math.round(v * 1000) / 1000;
    const e = this.extent;
    this.onEdit({ op: "add_point", x: round(-e + 2 * e * fx), y: round(e - 2 * e * fy),
      [mode.field]: mode.value });
  }

  erase(event) {
    const range = event && event.range;
    if (!range || this.select.value !== "erase") return;
    const [x0, x1] = range.x, [y0, y1] = range.y;
    this.onEdit({ op: "erase_points", x0: Math.min(x0, x1), x1: Math.max(x0, x1),
      y0: Math.min(y0, y1), y1: Math.max(y0, y1) });
    // no box left behind, and no points left dimmed as "unselected"
    Plotly.relayout(this.plot, { selections: [] });
    Plotly.restyle(this.plot, { selectedpoints: [null, null] }, [0, 1]);
  }
}
