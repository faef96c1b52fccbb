// The live view: network drawing, decision boundary, curves and histograms.
//
// Mounted once by the page with a fixed key. It opens a WebSocket to its
// session's stream, merges every message's new history rows at once (so none
// are lost), and draws the newest state on requestAnimationFrame, updating the
// Plotly figures in place: the boundary is an <img> under the plot that gets a
// new PNG, curves grow with extendTraces. Clicks on the drawing become "edit"
// triggers that the page applies to its Config.

/* global el, NetworkDrawing -- from network_drawing.js, concatenated before this file */

const MAX_CURVE_POINTS = 2000;
const views = (window.__pgViews = window.__pgViews || {});
const stats = (window.__pgStats = window.__pgStats || { redraws: 0, messages: 0, epoch: 0 });

function loadPlotly(src) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!window.__pgPlotly) {
    window.__pgPlotly = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(window.Plotly);
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }
  return window.__pgPlotly;
}

// larger type, thicker lines and taller plots for a projector
function presenterFigure(fig) {
  fig.layout.font = { ...(fig.layout.font || {}), size: 16 };
  if (fig.layout.height) fig.layout.height = Math.round(fig.layout.height * 1.35);
  if (fig.layout.legend) fig.layout.legend.font = { size: 15 };
  for (const trace of fig.data) {
    if (trace.line) trace.line = { ...trace.line, width: 3 };
    if (trace.marker && trace.mode === "markers") trace.marker = { ...trace.marker, size: 9 };
  }
}

class LiveView {
  constructor(trigger) {
    this.trigger = trigger;
    this.root = el("div", { class: "pg-live" });
    this.root.innerHTML = `
      <div class="pg-status">
        <div class="pg-transport">
          <button class="pg-tbtn" data-testid="pg-reset" title="back to epoch 0 with new initial weights">Reset</button>
          <button class="pg-tbtn pg-play" data-testid="pg-play" title="start or stop training">Play</button>
          <button class="pg-tbtn" data-testid="pg-step" title="train one epoch">Step</button>
          <button class="pg-tbtn" data-testid="pg-restart" title="back to epoch 0 with the same initial weights (a fair comparison)">Same start</button>
        </div>
        <span class="pg-epoch" data-testid="pg-epoch">Epoch 0</span>
        <span class="pg-rate"></span><span class="pg-msg" data-testid="pg-msg"></span>
        <button class="pg-recover" data-testid="pg-recover" hidden>
          Restart with a 10× smaller learning rate</button></div>
      <div class="pg-main">
        <div class="pg-network"></div>
        <div class="pg-output">
          <div class="pg-boundary-wrap"><img class="pg-boundary-img" alt="">
            <div class="pg-boundary"></div>
            <div class="pg-hover-label" data-testid="pg-hover-label" hidden></div></div>
          <div class="pg-legend" data-testid="pg-legend"></div>
          <div class="pg-toggles">
            <label><input type="checkbox" class="pg-show-test"> Show test data</label>
            <label><input type="checkbox" class="pg-discretize"> Discretize output</label></div>
          <div class="pg-numbers" data-testid="pg-numbers"></div>
          <div class="pg-digits" data-testid="pg-digits"></div>
          <div class="pg-curves"></div>
        </div>
      </div>
      <div class="pg-more">
        <div class="pg-hist-w"></div><div class="pg-hist-g"></div>
        <div class="pg-norms"></div><div class="pg-confusion"></div>
      </div>`;
    this.q = (sel) => this.root.querySelector(sel);
    this.network = new NetworkDrawing(this.q(".pg-network"), (name, value) =>
      this.trigger(name, value));
    // weights and biases can be typed in while paused; they go down the stream
    this.network.canEdit = () => Boolean(this.summary && !this.summary.playing);
    this.network.onEdit = (target) => this.send("set_param", target);
    // hovering a neuron shows its picture in the big plot, as in the TF Playground
    this.network.onHover = (which) => {
      this.hovered = which;
      this.pictureDirty = Boolean(this.picture);
      this.schedule();
    };
    this.q(".pg-recover").onclick = () => this.trigger("edit", { op: "lower_learning_rate" });
    // play, pause, step and "same start" go down the stream: they act within a frame
    this.q(".pg-play").onclick = () =>
      this.send(this.summary && this.summary.playing ? "pause" : "play");
    this.q('[data-testid="pg-step"]').onclick = () => this.send("step", { epochs: 1 });
    this.q('[data-testid="pg-restart"]').onclick = () => this.send("restart");
    // a new start with new weights changes the Config (its init seed): the page does it
    this.q('[data-testid="pg-reset"]').onclick = () => this.trigger("edit", { op: "new_weights" });
    for (const field of ["show_test", "discretize"]) {
      const box = this.q(field === "show_test" ? ".pg-show-test" : ".pg-discretize");
      box.addEventListener("change", () =>
        this.trigger("edit", { op: "set", field, value: box.checked }));
    }
    this.ws = null;
    this.token = null;
    this.layoutKey = null;
    this.nextJob = 0;
    const job = (run, gap, fromPicture) => ({ run, gap, fromPicture, dirty: false, last: 0 });
    this.jobs = [
      job(() => this.drawCurves(), 100, false),
      job(() => this.drawNorms(), 250, false),
      job(() => this.drawBars(this.plots.hist_w, this.picture.hist_weights), 300, true),
      job(() => this.drawBars(this.plots.hist_g, this.picture.hist_grads), 300, true),
      job(() => this.drawConfusion(this.picture.confusion), 300, true),
    ];
    this.frameCount = 0;
    this.rateSamples = [];
  }

  update(data) {
    this.data = data;
    this.q(".pg-show-test").checked = data.show_test;
    this.q(".pg-discretize").checked = data.discretize;
    loadPlotly(data.plotly_src).then(() => {
      if (data.layout_key !== this.layoutKey) this.build(data);
      else this.setTestVisible(data.show_test);
      if (data.token !== this.token) this.connect(data.token);
    });
  }

  // -- building ------------------------------------------------------------------------
  build(data) {
    this.layoutKey = data.layout_key;
    // a projector: large type, thicker lines, the key plots bigger (CSS does the sizes)
    this.root.classList.toggle("pg-presenter", Boolean(data.presenter));
    this.network.scale = data.presenter ? 1.6 : 1;
    // wide inputs (the digits) have no plane to draw a boundary on
    this.root.classList.toggle("pg-wide", Boolean(data.network.wide_input));
    // ... so their confusion matrix takes the boundary's place
    const home = data.network.wide_input ? this.q(".pg-output") : this.q(".pg-more");
    home.insertBefore(this.q(".pg-confusion"), data.network.wide_input ? home.firstChild : null);
    const figs = data.figures;
    const boundary = figs.boundary;
    boundary.layout.images = [];
    boundary.layout.plot_bgcolor = "rgba(0,0,0,0)";
    const config = { displayModeBar: false, responsive: false, staticPlot: false };
    this.plots = {
      boundary: this.q(".pg-boundary"), curves: this.q(".pg-curves"),
      hist_w: this.q(".pg-hist-w"), hist_g: this.q(".pg-hist-g"),
      norms: this.q(".pg-norms"), confusion: this.q(".pg-confusion"),
    };
    const pairs = [["boundary", boundary], ["curves", figs.curves], ["hist_w", figs.hist_weights],
      ["hist_g", figs.hist_grads], ["norms", figs.norms], ["confusion", figs.confusion]];
    for (const [name, fig] of pairs) {
      const div = this.plots[name];
      if (!fig) { Plotly.purge(div); div.style.display = "none"; continue; }
      div.style.display = "";
      if (data.presenter) presenterFigure(fig);
      Plotly.newPlot(div, fig.data, fig.layout, config);
    }
    this.placeBoundaryImage();
    this.drawLegend(data.legend);
    this.slowKey = null;
    this.clearHistory();
    if (this.points) this.drawPoints(this.points);
    this.network.build(data.network);
    if (this.picture) { this.pictureDirty = true; this.schedule(); }
  }

  // what the output's colours mean: a scale (binary, regression) or one swatch per class
  drawLegend(legend) {
    const box = this.q(".pg-legend");
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

  placeBoundaryImage() {
    const size = this.plots.boundary._fullLayout._size;
    const img = this.q(".pg-boundary-img");
    Object.assign(img.style, { left: `${size.l}px`, top: `${size.t}px`,
      width: `${size.w}px`, height: `${size.h}px` });
  }

  clearHistory() {
    this.history = {};
    for (const key of this.data.protocol.history_keys) this.history[key] = [];
    this.stride = 1;
    this.emptyCurves();
  }

  // -- the stream ------------------------------------------------------------------------
  connect(token) {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); }
    this.token = token;
    this.clearHistory();
    if (!token) return;
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}${this.data.base_path}/live/${token}`);
    this.ws = ws;
    ws.onmessage = (event) => this.receive(JSON.parse(event.data));
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === this.data.protocol.close.unknown) {
        this.trigger("expired", Date.now());
        return;
      }
      setTimeout(() => { if (!this.ws && this.token === token) this.connect(token); }, 1000);
    };
  }

  // one command of protocol.PAGE_COMMANDS down the stream
  send(cmd, extra = {}) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ cmd, ...extra }));
    }
  }

  // the page is going away for good: the server frees its session at once
  unload() {
    if (this.ws) { this.ws.onclose = null; this.ws.close(this.data.protocol.close.unloaded); }
    this.ws = null;
  }

  receive(msg) {
    stats.messages += 1;
    if (msg.restart) this.clearHistory();
    for (const [key, rows] of Object.entries(msg.history)) this.history[key].push(...rows);
    if (msg.points !== undefined) { this.points = msg.points; this.drawPoints(msg.points); }
    if (msg.picture) { this.picture = msg.picture; this.pictureDirty = true; }
    this.summary = msg.summary;
    this.counterDirty = true;
    if (Object.values(msg.history).some((rows) => rows.length)) this.jobs[0].dirty = true;
    if (msg.notice !== undefined) this.notice = msg.notice;
    this.error = msg.error;
    this.schedule();
  }

  // -- drawing ---------------------------------------------------------------------------
  // Cheap parts (counter, boundary image, network) redraw on every frame; each Plotly
  // update costs 10-40 ms, so at most one runs per frame, round-robin, each no more
  // often than its gap. Whatever is left dirty gets another animation frame.
  draw() {
    const s = this.summary;
    if (!s || !this.plots) return;
    const t0 = performance.now();
    if (this.pictureDirty || this.counterDirty) {
      this.counterDirty = false;
      stats.redraws += 1;
      stats.epoch = s.epoch;
      this.q(".pg-epoch").textContent = `Epoch ${s.epoch.toLocaleString("en-US")}`;
      const play = this.q(".pg-play");
      play.textContent = s.playing ? "Pause" : "Play";
      play.classList.toggle("pg-playing", Boolean(s.playing));
      this.drawRate(s.epoch, s.playing);
      const warning = this.error || s.stopped;
      this.q(".pg-msg").textContent = warning || this.notice || "";
      this.q(".pg-msg").classList.toggle("pg-warn", Boolean(warning));
      this.q(".pg-recover").hidden = !(s.stopped || "").startsWith("Diverged");
      this.drawNumbers(s.metric, s.last);
    }
    if (this.pictureDirty) {
      this.pictureDirty = false;
      const pic = this.picture;
      const [l, j] = this.hovered || [];
      const hovered = this.hovered && pic.neurons[l] && pic.neurons[l][j];
      const shown = hovered || pic.boundary;
      if (shown) this.q(".pg-boundary-img").src = shown;
      const label = this.q(".pg-hover-label");
      label.hidden = !hovered;
      // the digits have no plane: the big plot appears only to show a hovered neuron
      this.root.classList.toggle("pg-hovering", Boolean(hovered));
      if (hovered) label.textContent = `layer ${l + 1}, neuron ${j + 1}`;
      this.network.draw(pic);
      if (pic.predictions) this.drawPredictions(pic.predictions);
      // the server sends these a few times a second; between, the picture repeats them
      const slowKey = JSON.stringify([pic.hist_weights, pic.hist_grads, pic.confusion]);
      if (slowKey !== this.slowKey) {
        this.slowKey = slowKey;
        for (const job of this.jobs) if (job.fromPicture) job.dirty = true;
      }
    }
    const t1 = performance.now();
    const n = this.jobs.length;
    for (let k = 0; k < n; k++) {
      const job = this.jobs[(this.nextJob + k) % n];
      if (job.dirty && t1 - job.last >= job.gap) {
        job.dirty = false;
        job.last = t1;
        job.run();
        this.nextJob = (this.nextJob + k + 1) % n;
        break;
      }
    }
    const t2 = performance.now();
    stats.ms = stats.ms || { picture: 0, plotly: 0 };
    stats.ms.picture += t1 - t0;
    stats.ms.plotly += t2 - t1;
    if (this.jobs.some((job) => job.dirty)) this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => { this.scheduled = false; this.draw(); });
  }

  drawRate(epoch, playing) {
    const now = performance.now();
    if (!playing) {
      this.rateSamples = [];
      this.q(".pg-rate").textContent = "";
      return;
    }
    this.rateSamples.push([now, epoch]);
    while (this.rateSamples.length > 2 && now - this.rateSamples[0][0] > 2000) {
      this.rateSamples.shift();
    }
    const [t0, e0] = this.rateSamples[0];
    const rate = now > t0 + 200 ? (epoch - e0) / ((now - t0) / 1000) : 0;
    this.q(".pg-rate").textContent = rate > 0 ? `${Math.round(rate)} epochs/s` : "";
  }

  // indices of history rows from `from` on, thinned to every stride-th epoch
  newRows(from) {
    const epochs = this.history.epoch;
    const idx = [];
    for (let i = from; i < epochs.length; i++) if (epochs[i] % this.stride === 0) idx.push(i);
    return idx;
  }

  drawCurves() {
    const h = this.history;
    if (h.epoch.length > MAX_CURVE_POINTS * this.stride) {
      // too many points to extend smoothly: keep every 2nd one from now on
      this.stride *= 2;
      this.emptyCurves();
    }
    const idx = this.newRows(this.curvesUpTo);
    this.curvesUpTo = h.epoch.length;
    if (!idx.length) return;
    const pick = (arr) => idx.map((i) => arr[i]);
    const xs = pick(h.epoch);
    Plotly.extendTraces(this.plots.curves, { x: [xs, xs, xs, xs],
      y: [pick(h.train_loss), pick(h.test_loss), pick(h.train_metric), pick(h.test_metric)] },
    [0, 1, 2, 3]);
    this.jobs[1].dirty = true;
  }

  drawNorms() {
    const h = this.history;
    const idx = this.newRows(this.normsUpTo);
    this.normsUpTo = h.epoch.length;
    const layers = h.weight_norms[0] ? h.weight_norms[0].length : 0;
    if (!idx.length || !layers || this.plots.norms.data.length !== 2 * layers) return;
    const xs = idx.map((i) => h.epoch[i]);
    const ys = [];
    for (const key of ["weight_norms", "grad_norms"]) {
      for (let l = 0; l < layers; l++) ys.push(idx.map((i) => h[key][i][l]));
    }
    Plotly.extendTraces(this.plots.norms, { x: ys.map(() => xs), y: ys }, ys.map((_, i) => i));
  }

  emptyCurves() {
    this.curvesUpTo = 0;
    this.normsUpTo = 0;
    Plotly.restyle(this.plots.curves, { x: [[], [], [], []], y: [[], [], [], []] });
    const n = this.plots.norms.data.length;
    if (n) Plotly.restyle(this.plots.norms, { x: Array(n).fill([]), y: Array(n).fill([]) });
  }

  // the newest epoch's numbers (the server's summary), whether or not its row was kept
  drawNumbers(metric, last) {
    const value = (key) => (last && typeof last[key] === "number" ? last[key] : null);
    const fmt = (v) => (v === null ? "–" : v.toFixed(3));
    const pct = (v) => (v === null ? "–" : metric === "accuracy" ? `${(100 * v).toFixed(1)}%`
      : v.toFixed(3));
    const name = metric === "accuracy" ? "accuracy" : "R²";
    this.q(".pg-numbers").innerHTML =
      `<span>Test loss <b class="pg-test-loss">${fmt(value("test_loss"))}</b></span>` +
      `<span>Training loss <b>${fmt(value("train_loss"))}</b></span>` +
      `<span>Test ${name} <b class="pg-test-metric">${pct(value("test_metric"))}</b></span>`;
  }

  drawBars(div, hists) {
    if (!hists || div.data.length !== hists.length) return;
    const xs = [], ys = [], widths = [];
    hists.forEach((hst) => {
      const w = (hst.hi - hst.lo) / hst.counts.length;
      xs.push(hst.counts.map((_, i) => hst.lo + (i + 0.5) * w));
      ys.push(hst.counts);
      widths.push(w);
    });
    Plotly.restyle(div, { x: xs, y: ys, width: widths });
  }

  drawConfusion(counts) {
    const div = this.plots.confusion;
    if (counts && div.data && div.data.length) Plotly.restyle(div, { z: [counts] });
  }

  // image inputs (the digits): the first test images, each captioned with its prediction
  drawDigits(points) {
    const box = this.q(".pg-digits");
    box.innerHTML = "";
    this.digitCaptions = points.digits.map((png, i) => {
      const figure = el("figure", {}, box);
      el("img", { src: png, alt: `a ${points.truth[i]}` }, figure);
      return el("figcaption", {}, figure);
    });
    this.digitTruth = points.truth;
  }

  drawPredictions(predicted) {
    (this.digitCaptions || []).forEach((caption, i) => {
      const miss = predicted[i] !== this.digitTruth[i];
      caption.textContent = miss ? `${predicted[i]} ✗` : `${predicted[i]}`;
      caption.classList.toggle("pg-miss", miss);
      caption.title = miss ? `predicted ${predicted[i]}, is ${this.digitTruth[i]}` : "right";
    });
  }

  drawPoints(points) {
    if (!this.plots || !points) return;
    if (points.digits) { this.drawDigits(points); return; }
    const split = (rows) => ({ x: rows.map((r) => r[0]), y: rows.map((r) => r[1]) });
    const train = split(points.train), test = split(points.test);
    const colour = this.data.class_colours;
    // regression values go in as numbers: the figure's colour scale (plots.py) paints them
    const colours = (rows) => (points.task === "regression" ? rows.map((r) => r[2])
      : rows.map((r) => colour[r[2] % colour.length]));
    Plotly.restyle(this.plots.boundary, { x: [train.x, test.x], y: [train.y, test.y],
      "marker.color": [colours(points.train), colours(points.test)] }, [0, 1]);
    this.setTestVisible(this.data.show_test);
  }

  setTestVisible(show) {
    const trace = this.plots && this.plots.boundary.data && this.plots.boundary.data[1];
    if (trace && trace.visible !== show) Plotly.restyle(this.plots.boundary, { visible: show }, [1]);
  }

  destroy() {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); }
    this.ws = null;
    this.token = null;
  }
}

if (!window.__pgUnloadListener) {
  window.__pgUnloadListener = true;
  window.addEventListener("pagehide", (event) => {
    if (event.persisted) return; // kept in the back-forward cache: it may come back
    for (const view of Object.values(views)) view.unload();
  });
}

// A TensorFlow Playground link keeps its settings in the hash (#activation=tanh&...):
// hand it to the page once, then drop it so a reload does not apply it again.
function takeTensorFlowLink(trigger) {
  const fragment = window.location.hash;
  if (!/^#[A-Za-z]+=/.test(fragment)) return;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  trigger("tf_link", fragment);
}

export default function (component) {
  const { data, parentElement, setTriggerValue, key } = component;
  const id = key || "live";
  let view = views[id];
  if (!view) {
    view = views[id] = new LiveView(setTriggerValue);
    takeTensorFlowLink(setTriggerValue);
  }
  view.trigger = setTriggerValue;
  clearTimeout(view.pendingDestroy);
  if (view.root.parentNode !== parentElement) parentElement.appendChild(view.root);
  view.update(data);
  return () => {
    // Streamlit may call this between renders; only a real unmount outlives the delay
    view.pendingDestroy = setTimeout(() => {
      if (!view.root.isConnected) { view.destroy(); delete views[id]; }
    }, 500);
  };
}
