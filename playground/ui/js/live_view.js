// The live view: network drawing, decision boundary, curves and histograms.
//
// Mounted once by the page with a fixed key. It opens a WebSocket to its
// session's stream, merges every message's new history rows at once (so none
// are lost), and draws the newest state on requestAnimationFrame, updating the
// Plotly figures in place (charts.js). Clicks on the drawing become "edit"
// triggers that the page applies to its Config; play, pause, step and typed-in
// weights go down the stream.

import {
  ConfusionChart,
  CurvesChart,
  DigitsPanel,
  HistogramChart,
  NormsChart,
  OutputPlot,
} from "./charts.js";
import { el, exportConfig, loadPlotly, presenterFigure } from "./dom.js";
import { DrawTool } from "./draw_points.js";
import { NetworkDrawing } from "./network_drawing.js";
import { usePalettes } from "./pixels.js";
import { LIVE_VIEW_HTML, StatusBar } from "./status.js";
import { LiveStream, mountView, stats } from "./stream.js";

// after a play, pause or step, the charts wait this long (a Plotly update holds the page
// for 10-30 ms): the counter and the picture show the answer first
const ANSWER_FIRST_MS = 150;
const TAIL_GAP_MS = 100;

// built at once; the rest (histograms, norms, confusion) when the browser is idle
const FIRST_SCREEN = new Set(["boundary", "curves"]);
// a chart job's gap in ms: a number, or a function that says it now
const gapOf = (job) => (typeof job.gap === "function" ? job.gap() : job.gap);
const whenIdle = (fn) => (window.requestIdleCallback
  ? requestIdleCallback(fn, { timeout: 500 }) : setTimeout(fn, 50));

class LiveView {
  constructor(trigger) {
    this.trigger = trigger;
    this.root = el("div", { class: "pg-live" });
    this.root.innerHTML = LIVE_VIEW_HTML;
    this.q = (sel) => this.root.querySelector(sel);
    this.network = new NetworkDrawing(this.q(".pg-network"), (name, value) =>
      (name === "edit" ? this.edit(value) : this.trigger(name, value)));
    this.edits = []; // edits not yet applied by the page, the first one sent
    this.tailDrawnAt = 0;
    // weights and biases can be typed in while paused; they go down the stream
    this.network.canEdit = () => Boolean(this.summary && !this.summary.playing);
    this.network.onEdit = (target) => this.send("set_param", target);
    // hovering a neuron shows its picture in the big plot, as in the TF Playground
    this.network.onHover = (which) => {
      this.hovered = which;
      this.pictureDirty = Boolean(this.picture);
      this.schedule();
    };
    this.q(".pg-recover").onclick = () => this.edit({ op: "lower_learning_rate" });
    // play, pause, step and "same start" go down the stream: they act within a frame
    this.q(".pg-play").onclick = () => this.keyCommand("play");
    this.q('[data-testid="pg-step"]').onclick = () => this.keyCommand("step");
    this.q('[data-testid="pg-restart"]').onclick = () => this.send("restart");
    // a new start with new weights changes the Config (its init seed): the page does it
    this.q('[data-testid="pg-reset"]').onclick = () => this.edit({ op: "new_weights" });
    for (const field of ["show_test", "discretize"]) {
      const box = this.q(field === "show_test" ? ".pg-show-test" : ".pg-discretize");
      box.addEventListener("change", () =>
        this.edit({ op: "set", field, value: box.checked }));
    }
    this.stream = new LiveStream({ onMessage: (msg) => this.receive(msg),
      onExpired: () => this.trigger("expired", Date.now()),
      onOpen: () => { this.viewSent = null; this.reportView(); } });
    this.layoutKey = null;
    this.plots = {
      boundary: this.q(".pg-boundary"), curves: this.q(".pg-curves"),
      hist_weights: this.q(".pg-hist-w"), hist_grads: this.q(".pg-hist-g"),
      norms: this.q(".pg-norms"), confusion: this.q(".pg-confusion"),
    };
    this.output = new OutputPlot({ plot: this.plots.boundary, canvas: this.q(".pg-boundary-img"),
      label: this.q(".pg-hover-label"), legend: this.q(".pg-legend") });
    this.drawTool = new DrawTool(this.q(".pg-draw-mode"), this.q(".pg-draw-test"),
      this.plots.boundary, (edit) => this.edit(edit));
    this.curves = new CurvesChart(this.plots.curves, this.q(".pg-curves-tail"));
    this.norms = new NormsChart(this.plots.norms);
    this.histWeights = new HistogramChart(this.plots.hist_weights);
    this.histGrads = new HistogramChart(this.plots.hist_grads);
    this.confusion = new ConfusionChart(this.plots.confusion);
    this.digits = new DigitsPanel(this.q(".pg-digits"));
    this.status = new StatusBar(this.q);
    // The Plotly updates, by name: at most one runs per animation frame (round robin),
    // each no more often than its gap (ms, or a function that says it); fromPicture ones
    // wait for new slow parts.
    const job = (run, gap, fromPicture = false) =>
      ({ run, gap, fromPicture, dirty: false, last: 0 });
    this.jobs = {
      curves: job(() => this.drawCurves(), () => this.curves.gap(this.summary && this.summary.playing)),
      norms: job(() => this.norms.draw(this.history, this.curves.stride), 250),
      hist_weights: job(() => this.histWeights.draw(this.picture.hist_weights), 300, true),
      hist_grads: job(() => this.histGrads.draw(this.picture.hist_grads), 300, true),
      confusion: job(() => this.confusion.draw(this.picture.confusion), 300, true),
    };
    this.jobOrder = Object.keys(this.jobs);
    this.nextJob = 0;
    // What is on screen: a chart scrolled out of sight is updated when it comes back,
    // and the server leaves out of the frames what the page does not show
    // (protocol.VIEW: the histograms and confusion matrix, the neurons' thumbnails).
    this.onScreen = {};
    const watched = { ...this.plots, network: this.q(".pg-network") };
    const watcher = new IntersectionObserver((entries) => {
      for (const entry of entries) this.onScreen[entry.target.dataset.pgWatch] = entry.isIntersecting;
      this.reportView();
      this.schedule();
    }, { rootMargin: "100px" });
    for (const [name, element] of Object.entries(watched)) {
      element.dataset.pgWatch = name;
      watcher.observe(element);
    }
    document.addEventListener("visibilitychange", () => this.reportView());
  }

  shown(name) {
    return this.onScreen[name] !== false; // not yet known: shown
  }

  reportView() {
    const seen = document.visibilityState !== "hidden";
    const view = { stats: seen && ["hist_weights", "hist_grads", "confusion"].some((n) => this.shown(n)),
      neurons: seen && this.shown("network") };
    const key = JSON.stringify(view);
    if (key === this.viewSent || !this.stream.ws || this.stream.ws.readyState !== WebSocket.OPEN) return;
    this.viewSent = key;
    stats.view = view;
    this.send("view", view);
  }

  // "play" (play or pause) or "step": a button or its key (stream.js)
  keyCommand(command) {
    // the answer shows first: no chart update takes the next animation frames
    this.chartsWaitUntil = performance.now() + ANSWER_FIRST_MS;
    if (command === "step") this.send("step", { epochs: 1 });
    else this.send(this.summary && this.summary.playing ? "pause" : "play");
  }

  // -- edits: one at a time, each until the page says it applied it -------------------
  // A trigger sent while the page is still applying the one before can replace it
  // unseen, so quick clicks were lost: each edit carries a number, the page returns the
  // last number it applied (data.edit_seq), and the next edit goes only then. One that
  // got lost all the same is sent again after a while; the page applies a number once.
  edit(edit) {
    this.editSeq = Math.max(this.editSeq || 0, this.appliedSeq || 0) + 1;
    this.edits.push({ ...edit, seq: this.editSeq });
    this.sendEdit();
  }

  sendEdit() {
    clearTimeout(this.editTimer);
    if (!this.edits.length) return;
    this.trigger("edit", this.edits[0]);
    this.editTimer = setTimeout(() => this.sendEdit(), 3000);
  }

  editApplied(seq) {
    this.appliedSeq = seq;
    const before = this.edits.length;
    this.edits = this.edits.filter((edit) => edit.seq > seq);
    if (this.edits.length !== before) this.sendEdit();
  }

  update(data) {
    this.data = data;
    this.editApplied(data.edit_seq || 0);
    this.q(".pg-draw-note").textContent = data.draw_note || "";
    usePalettes(data.palettes);
    this.q(".pg-show-test").checked = data.show_test;
    this.q(".pg-discretize").checked = data.discretize;
    // the stream first: its first frame travels while Plotly loads (until the figures
    // are built, messages are kept and drawn by build)
    if (data.token !== this.stream.token) {
      this.clearHistory();
      this.stream.connect(data.base_path, data.token, data.protocol);
    }
    loadPlotly(data.plotly_src).then(() => {
      if (this.data !== data) return; // a newer update came while Plotly loaded
      if (data.layout_key !== this.layoutKey) this.build(data);
      else this.output.setTestVisible(data.show_test);
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
    // a projector at 1024x768: the loss chart under the network, so all is on one screen
    this.q(data.presenter ? ".pg-under-network" : ".pg-output").appendChild(this.q(".pg-curves-wrap"));
    const figs = data.figures;
    const boundary = figs.boundary;
    // the output is a <canvas> under the plot (painted on every frame); a download puts
    // the current one into the figure as its layout image for the moment of the export
    const [outputImage] = boundary.layout.images;
    boundary.layout.images = [];
    boundary.layout.plot_bgcolor = "rgba(0,0,0,0)";
    const withOutput = async (gd) => {
      await Plotly.relayout(gd, { images: [{ ...outputImage, source: this.output.canvas.toDataURL() }] });
      return () => Plotly.relayout(gd, { images: [] });
    };
    const later = [];
    // the digits' confusion matrix stands where the output would: it is on the first screen
    const first = (name) => FIRST_SCREEN.has(name) || (name === "confusion" && data.network.wide_input);
    for (const [name, div] of Object.entries(this.plots)) {
      const fig = figs[name];
      if (!fig || !first(name)) Plotly.purge(div);
      if (!fig) { div.style.display = "none"; continue; }
      div.style.display = "";
      // the loss chart fits under the network on a 768 px screen
      if (data.presenter) presenterFigure(fig, name === "curves" ? { height: 186, left: 52 } : {});
      // a download of the curves holds every row, those on the tail canvas too
      const before = { boundary: withOutput, curves: async () => { this.drawCurves(); } }[name];
      const plot = () => Plotly.newPlot(div, fig.data, fig.layout,
        exportConfig(`playground-${name}`, before));
      if (first(name)) plot();
      else later.push([name, plot]);
    }
    this.buildLater(later);
    this.built = true;
    this.output.placeImage();
    this.output.drawLegend(data.legend);
    this.drawTool.setup(data.draw_modes);
    this.slowKey = null;
    // new figures: draw the rows kept so far into them (a restart's message clears them;
    // the rows of a run that began before this rebuild must not be lost)
    if (!this.history) this.clearHistory();
    else {
      this.curves.reset();
      this.norms.reset();
      this.jobs.curves.dirty = true;
    }
    if (this.points) this.drawPoints(this.points);
    this.network.callouts = Boolean(data.callouts);
    this.network.build(data.network);
    if (this.picture) { this.pictureDirty = true; this.schedule(); }
  }

  // The charts below the first screen: one at a time once the browser is idle (each
  // newPlot costs 30-80 ms on a first visit), so the first frame and the first chart do
  // not wait for them; each draws what came meanwhile. A rebuild drops the queue.
  buildLater(queue) {
    const build = (this.building = {});
    const next = () => {
      if (this.building !== build || !queue.length) return;
      const [name, plot] = queue.shift();
      plot();
      if (name === "norms") this.norms.reset();
      const job = this.jobs[name];
      if (job && (!job.fromPicture || this.picture)) job.dirty = true;
      this.schedule();
      whenIdle(next);
    };
    whenIdle(next);
  }

  clearHistory() {
    this.history = {};
    for (const key of this.data.protocol.history_keys) this.history[key] = [];
    if (!this.built) return;
    this.curves.reset();
    this.norms.reset();
  }

  send(cmd, extra = {}) {
    this.stream.send(cmd, extra);
  }

  receive(msg) {
    if (msg.restart) { this.clearHistory(); this.picture = undefined; } // all of it comes again
    for (const [key, rows] of Object.entries(msg.history)) this.history[key].push(...rows);
    if (msg.points !== undefined) { this.points = msg.points; this.drawPoints(msg.points); }
    // a picture brings the parts that changed; the others stay as they were
    if (msg.picture) { this.picture = { ...this.picture, ...msg.picture }; this.pictureDirty = true; }
    this.summary = msg.summary;
    this.counterDirty = true;
    if (Object.values(msg.history).some((rows) => rows.length)) {
      this.jobs.curves.dirty = true;
      this.tailDirty = true;
    }
    if (msg.notice !== undefined) this.notice = msg.notice;
    // room hook: the student's room changed; the page reruns to show it
    if (msg.room !== undefined && msg.room !== this.roomVersion) {
      this.roomVersion = msg.room;
      this.trigger("room", msg.room);
    }
    this.error = msg.error;
    this.schedule();
  }

  // -- drawing ---------------------------------------------------------------------------
  // Cheap parts (counter, boundary image, network, the curves' tail) redraw on every
  // frame; each Plotly update costs 10-40 ms, so at most one runs per frame, round-robin,
  // each no more often than its gap. Whatever is left dirty gets an animation frame when
  // it is due.
  draw() {
    const s = this.summary;
    if (!s || !this.built) return;
    const t0 = performance.now();
    if (this.pictureDirty || this.counterDirty) {
      this.counterDirty = false;
      stats.redraws += 1;
      stats.epoch = s.epoch;
      this.status.draw(s, this.error, this.notice);
    }
    if (this.pictureDirty) {
      this.pictureDirty = false;
      const pic = this.picture;
      const [l, j] = this.hovered || [];
      const hovered = this.hovered && pic.neurons && pic.neurons[l] && pic.neurons[l][j];
      this.output.show(hovered || pic.boundary, hovered ? `layer ${l + 1}, neuron ${j + 1}` : "");
      // the digits have no plane: the big plot appears only to show a hovered neuron
      this.root.classList.toggle("pg-hovering", Boolean(hovered));
      this.network.draw(pic);
      if (pic.predictions) this.digits.predict(pic.predictions);
      // the server sends these a few times a second; between, the picture repeats them
      const slowKey = JSON.stringify([pic.hist_weights, pic.hist_grads, pic.confusion]);
      if (slowKey !== this.slowKey) {
        this.slowKey = slowKey;
        for (const job of Object.values(this.jobs)) if (job.fromPicture) job.dirty = true;
      }
    }
    const t1 = performance.now();
    this.runOneJob(t1);
    // the curves' rows since Plotly's last redraw, on their canvas: a fraction of a ms,
    // but each repaints the canvas, so ten times a second at most
    if (this.tailDirty && this.shown("curves") && t1 - this.tailDrawnAt >= TAIL_GAP_MS) {
      this.tailDirty = false;
      this.tailDrawnAt = t1;
      this.curves.drawTail(this.history);
    }
    const t2 = performance.now();
    stats.ms = stats.ms || { picture: 0, plotly: 0 };
    stats.ms.picture += t1 - t0;
    stats.ms.plotly += t2 - t1;
    // a chart left dirty gets a frame when it is due, not every frame until then
    const due = this.nextJobDue();
    if (due !== null) {
      clearTimeout(this.jobTimer);
      if (due <= t2) this.schedule();
      else this.jobTimer = setTimeout(() => this.schedule(), due - t2);
    }
  }

  // when the first dirty chart on screen may be updated (null: none is dirty)
  nextJobDue() {
    let due = this.tailDirty && this.shown("curves") ? this.tailDrawnAt + TAIL_GAP_MS : null;
    for (const name of this.jobOrder) {
      const job = this.jobs[name];
      if (!job.dirty || !this.shown(name)) continue;
      const at = Math.max(job.last + gapOf(job), this.chartsWaitUntil || 0);
      due = due === null ? at : Math.min(due, at);
    }
    return due;
  }

  runOneJob(now) {
    if (now < (this.chartsWaitUntil || 0)) return;
    const n = this.jobOrder.length;
    for (let k = 0; k < n; k++) {
      const name = this.jobOrder[(this.nextJob + k) % n];
      const job = this.jobs[name];
      if (job.dirty && this.shown(name) && now - job.last >= gapOf(job)) {
        job.dirty = false;
        job.last = now;
        job.run();
        this.nextJob = (this.nextJob + k + 1) % n;
        return;
      }
    }
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => { this.scheduled = false; this.draw(); });
  }

  drawCurves() {
    const stride = this.curves.stride;
    this.curves.draw(this.history);
    if (this.curves.stride !== stride) this.norms.reset(); // thinned: both start again
    this.jobs.norms.dirty = true;
  }

  drawPoints(points) {
    if (!this.built || !points) return;
    if (points.digits) this.digits.show(points);
    else this.output.drawPoints(points, this.data.class_colours, this.data.show_test);
  }
}

// A TensorFlow Playground link keeps its settings in the hash (#activation=tanh&...):
// hand it to the page once, then drop it so a reload does not apply it again.
function takeTensorFlowLink(trigger) {
  const fragment = window.location.hash;
  if (!/^#[A-Za-z]+=/.test(fragment)) return;
  history.replaceState(null, "", window.location.pathname + window.location.search);
  trigger("tf_link", fragment);
}

export function mount(component) {
  return mountView(component, (trigger) => new LiveView(trigger), takeTensorFlowLink);
}
