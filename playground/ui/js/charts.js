// The live view's charts, one class each. Each is created once on its <div> and then
// updated in place (a Plotly update costs 10-40 ms; recreating a figure much more).

import { el } from "./dom.js";
import { paintPicture } from "./pixels.js";

const MAX_CURVE_POINTS = 2000;

// Loss and accuracy (or R²) over epochs, grown with extendTraces; past MAX_CURVE_POINTS
// it keeps every 2nd, 4th, ... epoch (`stride`) so extending stays smooth.
export class CurvesChart {
  constructor(div) {
    this.div = div;
    this.reset();
  }

  reset() {
    this.stride = 1;
    this.upTo = 0;
    const n = this.div.data ? this.div.data.length : 0;
    if (n) Plotly.restyle(this.div, { x: Array(n).fill([]), y: Array(n).fill([]) });
  }

  draw(history) {
    if (history.epoch.length > MAX_CURVE_POINTS * this.stride) {
      const stride = this.stride * 2;
      this.reset();
      this.stride = stride;
    }
    const idx = thinnedRows(history.epoch, this.upTo, this.stride);
    this.upTo = history.epoch.length;
    if (!idx.length) return;
    const pick = (arr) => idx.map((i) => arr[i]);
    const xs = pick(history.epoch);
    const ys = [pick(history.train_loss), pick(history.test_loss), pick(history.train_metric),
      pick(history.test_metric)];
    // with a validation share, a fifth trace: the loss early stopping watches
    if (this.div.data.length > 4 && history.val_loss) ys.push(pick(history.val_loss));
    Plotly.extendTraces(this.div, { x: ys.map(() => xs), y: ys }, ys.map((_, i) => i));
  }
}

// Each layer's weight and gradient norm over epochs (log scale), thinned as the curves.
export class NormsChart {
  constructor(div) {
    this.div = div;
    this.upTo = 0;
  }

  reset() {
    this.upTo = 0;
    const n = this.div.data ? this.div.data.length : 0;
    if (n) Plotly.restyle(this.div, { x: Array(n).fill([]), y: Array(n).fill([]) });
  }

  draw(history, stride) {
    const idx = thinnedRows(history.epoch, this.upTo, stride);
    this.upTo = history.epoch.length;
    const layers = history.weight_norms[0] ? history.weight_norms[0].length : 0;
    if (!idx.length || !layers || !this.div.data || this.div.data.length !== 2 * layers) return;
    const xs = idx.map((i) => history.epoch[i]);
    const ys = [];
    for (const key of ["weight_norms", "grad_norms"]) {
      for (let l = 0; l < layers; l++) ys.push(idx.map((i) => history[key][i][l]));
    }
    Plotly.extendTraces(this.div, { x: ys.map(() => xs), y: ys }, ys.map((_, i) => i));
  }
}

// indices of rows from `from` on whose epoch is a multiple of stride
function thinnedRows(epochs, from, stride) {
  const idx = [];
  for (let i = from; i < epochs.length; i++) if (epochs[i] % stride === 0) idx.push(i);
  return idx;
}

// A histogram per layer (weights or gradients), over a symmetric range from the server.
export class HistogramChart {
  constructor(div) {
    this.div = div;
  }

  draw(hists) {
    if (!hists || !this.div.data || this.div.data.length !== hists.length) return;
    const xs = [], ys = [], widths = [];
    hists.forEach((hst) => {
      const w = (hst.hi - hst.lo) / hst.counts.length;
      xs.push(hst.counts.map((_, i) => hst.lo + (i + 0.5) * w));
      ys.push(hst.counts);
      widths.push(w);
    });
    Plotly.restyle(this.div, { x: xs, y: ys, width: widths });
  }
}

// One bar per cell, row by row (plots.confusion_figure): its colour and its label are
// the count (plots.confusion_cells makes the same two fields).
export class ConfusionChart {
  constructor(div) {
    this.div = div;
  }

  draw(counts) {
    if (!counts || !this.div.data || !this.div.data.length) return;
    const flat = counts.flat();
    Plotly.restyle(this.div, { "marker.color": [flat], text: [flat.map(String)] });
  }
}

// The output over the plane: palette indices painted on a <canvas> under a fixed-axis
// Plotly plot that holds the data points; a legend says what the colours mean.
export class OutputPlot {
  constructor({ plot, canvas, label, legend }) {
    Object.assign(this, { plot, canvas, label, legend });
  }

  placeImage() {
    const size = this.plot._fullLayout._size;
    Object.assign(this.canvas.style, { left: `${size.l}px`, top: `${size.t}px`,
      width: `${size.w}px`, height: `${size.h}px` });
  }

  // the output, or (hovering) one neuron's picture with its name
  show(picture, hoverLabel) {
    if (picture) paintPicture(picture, this.canvas);
    this.label.hidden = !hoverLabel;
    if (hoverLabel) this.label.textContent = hoverLabel;
  }

  drawPoints(points, classColours, showTest) {
    const split = (rows) => ({ x: rows.map((r) => r[0]), y: rows.map((r) => r[1]) });
    const train = split(points.train), test = split(points.test);
    // regression values go in as numbers: the figure's colour scale (plots.py) paints them
    const colours = (rows) => (points.task === "regression" ? rows.map((r) => r[2])
      : rows.map((r) => classColours[r[2] % classColours.length]));
    Plotly.restyle(this.plot, { x: [train.x, test.x], y: [train.y, test.y],
      "marker.color": [colours(points.train), colours(points.test)] }, [0, 1]);
    this.setTestVisible(showTest);
  }

  setTestVisible(show) {
    const trace = this.plot.data && this.plot.data[1];
    if (trace && trace.visible !== show) Plotly.restyle(this.plot, { visible: show }, [1]);
  }

  // a scale (binary, regression) or one swatch per class
  drawLegend(legend) {
    const box = this.legend;
    box.innerHTML = "";
    if (!legend) return;
    if (legend.kind === "classes") {
      for (const [name, colour] of legend.items) {
        const item = el("span", { class: "pg-swatch" }, box);
        el("i", { style: `background: ${colour}` }, item);
        item.append(name);
      }
      return;
    }
    el("span", {}, box).textContent = legend.low;
    el("span", { class: "pg-scale" }, box);
    el("span", {}, box).textContent = legend.high;
    el("span", { class: "pg-legend-title" }, box).textContent = legend.title;
  }
}

// Image inputs (the digits): the first test images, each captioned with its prediction.
export class DigitsPanel {
  constructor(box) {
    this.box = box;
    this.captions = [];
  }

  show(points) {
    this.box.innerHTML = "";
    this.truth = points.truth;
    this.captions = points.digits.map((png, i) => {
      const figure = el("figure", {}, this.box);
      el("img", { src: png, alt: `a ${points.truth[i]}` }, figure);
      return el("figcaption", {}, figure);
    });
  }

  predict(predicted) {
    this.captions.forEach((caption, i) => {
      const miss = predicted[i] !== this.truth[i];
      caption.textContent = miss ? `${predicted[i]} ✗` : `${predicted[i]}`;
      caption.classList.toggle("pg-miss", miss);
      caption.title = miss ? `predicted ${predicted[i]}, is ${this.truth[i]}` : "right";
    });
  }
}
