// Own points on the output plot: pick a class (or, for regression, a value) and click
// to add a point there, or pick "erase" and drag a box over points to remove them.
// Each action is an edit for the page (engine/edits.py: add_point, erase_points);
// training goes on with the new points, which come back in the next frame. A drawn
// point is a training point (always shown) unless "as test points" is ticked.

import { el } from "./dom.js";

export class DrawTool {
  constructor(select, testBox, plot, onEdit) {
    Object.assign(this, { select, testBox, plot, onEdit });
    this.select.addEventListener("change", () => this.arm());
    this.plot.addEventListener("click", (event) => this.click(event));
  }

  // modes from the page: [{label, field, value}] (field "label": a class, "value": a
  // target)
  setup(modes) {
    this.select.innerHTML = "";
    el("option", { value: "" }, this.select).textContent = "off";
    for (const [i, mode] of (modes || []).entries()) {
      el("option", { value: String(i) }, this.select).textContent = `add ${mode.label}`;
    }
    el("option", { value: "erase" }, this.select).textContent = "erase (drag a box)";
    this.modes = modes || [];
    for (const control of [this.select, this.testBox]) control.closest(".pg-draw").hidden = !modes;
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
    const point = this.dataPoint(event);
    if (!point) return;
    this.onEdit({ op: "add_point", ...point, [mode.field]: mode.value,
      set: this.testBox.checked ? "test" : "train" });
  }

  // The click in data coordinates, by the drawn axes themselves (their range, margins and
  // any padding Plotly added), or null outside the plotting area.
  dataPoint(event) {
    const layout = this.plot._fullLayout;
    if (!layout) return null;
    const xa = layout.xaxis, ya = layout.yaxis;
    const box = this.plot.getBoundingClientRect();
    // the page may scale the figure with CSS: client pixels to the layout's own pixels
    const sx = layout.width / box.width, sy = layout.height / box.height;
    const px = (event.clientX - box.left) * sx - xa._offset;
    const py = (event.clientY - box.top) * sy - ya._offset;
    if (px < 0 || px > xa._length || py < 0 || py > ya._length) return null;
    const round = (v) => Math.round(v * 1000) / 1000;
    return { x: round(xa.p2d(px)), y: round(ya.p2d(py)) };
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
