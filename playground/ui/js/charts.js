// The live view's charts, one class each. Each is created once on its <div> and then
// updated in place (a Plotly update costs 10-40 ms; recreating a figure much more).

import { el } from "./dom.js";
import { paintPicture } from "./pixels.js";

const MAX_CURVE_POINTS = 2000;
// a Plotly redraw of the curves holds the page for 15-30 ms (a frame or two): while
// training plays it runs once a second, and a canvas over the plot draws the rows since
const PLAYING_GAP_MS = 1000;
const GAP_MS = 200;
const DASHES = { solid: [], dot: [3, 3], dash: [9, 9] }; // Plotly's, at line width <= 3

// the smallest of 1, 1.5, 2, 3, 5, 7.5 times a power of ten that is at least v
function niceAbove(v) {
  const power = 10 ** Math.floor(Math.log10(v));
  return power * [1, 1.5, 2, 3, 5, 7.5, 10].find((step) => step * power >= v);
}

// Loss and accuracy (or R²) over epochs, grown with extendTraces; past MAX_CURVE_POINTS
// it keeps every 2nd, 4th, ... epoch (`stride`) so extending stays smooth. The chart
// keeps its own axis ranges (epochs up to a round number past the last, the loss from
// 0 to a round number over its highest), so the rows since the last redraw can be drawn
// on `tail`, a canvas over the plot, where Plotly would draw them. A range the user
// zoomed to is left alone, and then Plotly draws every update itself.
export class CurvesChart {
  constructor(div, tail) {
    Object.assign(this, { div, tail });
    this.reset();
  }

  reset() {
    this.stride = 1;
    this.upTo = 0; // rows handed to Plotly
    this.lastPlotted = -1; // the last of them it drew (thinning skips some)
    this.xMax = 0;
    this.yMax = 0;
    this.beyond = false; // rows outside the ranges wait for a redraw
    const n = this.div.data ? this.div.data.length : 0;
    if (n) Plotly.restyle(this.div, { x: Array(n).fill([]), y: Array(n).fill([]) });
    this.clearTail();
  }

  // how long Plotly's redraws of the curves wait for each other
  gap(playing) {
    return playing && this.ownsAxes() && !this.beyond ? PLAYING_GAP_MS : GAP_MS;
  }

  // the series in trace order: train and test loss, train and test metric, and with a
  // validation share the validation loss
  series(history) {
    const ys = [history.train_loss, history.test_loss, history.train_metric, history.test_metric];
    if (this.div.data && this.div.data.length > 4 && history.val_loss) ys.push(history.val_loss);
    return ys;
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
    this.fitAxes(history);
    const xs = idx.map((i) => history.epoch[i]);
    const ys = this.series(history).map((values) => idx.map((i) => values[i]));
    Plotly.extendTraces(this.div, { x: ys.map(() => xs), y: ys }, ys.map((_, i) => i));
    this.lastPlotted = idx[idx.length - 1];
    this.beyond = false;
    this.clearTail();
  }

  // whether the ranges are the chart's own (not the user's zoom), as fitAxes sets them
  ownsAxes() {
    const { xaxis, yaxis } = this.div.layout || {};
    if (!xaxis || !yaxis) return false;
    const ours = (axis, max) => axis.autorange !== false
      || (axis.range && axis.range[0] === 0 && axis.range[1] === max);
    return ours(xaxis, this.xMax) && ours(yaxis, this.yMax);
  }

  // widen the ranges to the rows that Plotly is about to get (it reads them from the
  // layout on the redraw extendTraces makes)
  fitAxes(history) {
    if (!this.ownsAxes()) return;
    const last = history.epoch[history.epoch.length - 1];
    if (last > this.xMax) this.xMax = niceAbove(Math.max(10, last * 1.2));
    const top = this.highestLoss(history, this.lastPlotted + 1);
    if (top > this.yMax || !this.yMax) this.yMax = niceAbove(Math.max(top * 1.05, 1e-3));
    const { xaxis, yaxis } = this.div.layout;
    Object.assign(xaxis, { autorange: false, range: [0, this.xMax] });
    Object.assign(yaxis, { autorange: false, range: [0, this.yMax] });
  }

  highestLoss(history, from) {
    let top = 0;
    this.series(history).forEach((values, i) => {
      if (this.div.data[i].yaxis === "y2") return;
      for (let r = from; r < values.length; r++) if (values[r] > top) top = values[r];
    });
    return top;
  }

  clearTail() {
    if (this.tail) this.tail.getContext("2d").clearRect(0, 0, this.tail.width, this.tail.height);
  }

  // the rows since the last redraw, from its last point on, as Plotly would draw them;
  // rows past the ranges mark the chart for an early redraw
  drawTail(history) {
    const full = this.div._fullLayout;
    if (!this.tail || !full || !full.xaxis || !full.xaxis.l2p) return;
    this.clearTail();
    if (!this.ownsAxes()) return;
    const size = full._size;
    const scale = window.devicePixelRatio || 1;
    // the plot area moves when Plotly's legend grows its top margin
    const place = [size.l, size.t, size.w, size.h, scale].join();
    if (this.tailPlace !== place) {
      this.tailPlace = place;
      this.tail.width = Math.round(size.w * scale);
      this.tail.height = Math.round(size.h * scale);
      Object.assign(this.tail.style, { left: `${size.l}px`, top: `${size.t}px`,
        width: `${size.w}px`, height: `${size.h}px` });
    }
    const ctx = this.tail.getContext("2d");
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    const epochs = history.epoch;
    if (epochs[epochs.length - 1] > this.xMax) this.beyond = true;
    if (this.highestLoss(history, this.lastPlotted + 1) > this.yMax) this.beyond = true;
    const x = full.xaxis;
    this.series(history).forEach((values, i) => {
      const trace = this.div.data[i];
      const y = trace.yaxis === "y2" ? full.yaxis2 : full.yaxis;
      ctx.strokeStyle = trace.line.color;
      ctx.lineWidth = trace.line.width;
      ctx.setLineDash(DASHES[trace.line.dash] || []);
      ctx.beginPath();
      let pen = false;
      for (let r = Math.max(this.lastPlotted, 0); r < values.length; r++) {
        const v = values[r];
        if (v === null || v === undefined) { pen = false; continue; }
        const px = x.l2p(epochs[r]), py = y.l2p(v);
        if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
        pen = true;
      }
      ctx.stroke();
    });
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
