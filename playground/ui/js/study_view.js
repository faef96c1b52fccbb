// A race or a sweep: one stream, many members (server/session.py).
//
// A race shows each member's output over the plane in a row of small cards and their
// loss curves overlaid in one chart, the legend naming what differs. A sweep plots
// where each member's loss and accuracy stand against the swept value, live. Clicking
// a card or a point opens that configuration on its own (an "open" trigger).

import { NEGATIVE, POSITIVE, el, exportConfig, loadPlotly, presenterFigure } from "./dom.js";
import { paintPicture, usePalettes } from "./pixels.js";
import { LiveStream, mountView } from "./stream.js";

const MAX_POINTS = 2000; // per curve; past it every other point goes
const REDRAW_MS = 250; // the charts redraw at most this often (a Plotly.react each)
const CARD = 150; // px, a race card's plot

const HTML = `
  <div class="pg-status">
    <div class="pg-transport">
      <button class="pg-tbtn pg-play" data-testid="pg-play"
        title="start or stop every member (key: Space)">Play</button>
      <button class="pg-tbtn" data-testid="pg-step" title="train one epoch (key: .)">Step</button>
      <button class="pg-tbtn" data-testid="pg-restart"
        title="every member back to epoch 0 from the same initial weights">Same start</button>
    </div>
    <span class="pg-epoch" data-testid="pg-epoch">Epoch 0</span>
    <span class="pg-msg" data-testid="pg-msg"></span>
  </div>
  <div class="pg-race-row" data-testid="pg-race-row"></div>
  <div class="pg-study-chart" data-testid="pg-study-chart"></div>`;

function percent(metric, v) {
  if (typeof v !== "number") return "–";
  return metric === "accuracy" ? `${(100 * v).toFixed(1)}%` : `R² ${v.toFixed(3)}`;
}

// a regression target in [-1, 1] in the page's scale: [low, middle, high] hex colours
function shade(value, scale) {
  const v = Math.max(-1, Math.min(1, value));
  const [from, to] = v < 0 ? [scale[1], scale[0]] : [scale[1], scale[2]];
  const rgb = (hex) => [1, 3, 5].map((k) => parseInt(hex.slice(k, k + 2), 16));
  const [a, b] = [rgb(from), rgb(to)];
  return `rgb(${a.map((c, k) => Math.round(c + (b[k] - c) * Math.abs(v))).join(",")})`;
}

// A log axis labelled only where a label reads as its own value: the powers of ten the
// values span (Plotly's own labels in between are "2" and "5", for 0.0002 or 20), or
// 1-2-5 steps where the values span less than two of them.
export function logTicks(values) {
  const lo = Math.min(...values) * (1 - 1e-9), hi = Math.max(...values) * (1 + 1e-9);
  const steps = (mantissas) => {
    const ticks = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of mantissas) {
        const v = Number((m * 10 ** e).toPrecision(12));
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    return ticks;
  };
  let tickvals = steps([1]);
  if (tickvals.length < 2) tickvals = steps([1, 2, 5]);
  if (tickvals.length < 2) tickvals = [...new Set([Math.min(...values), Math.max(...values)])];
  return { tickmode: "array", tickvals, ticktext: tickvals.map((v) => String(v)) };
}

class StudyView {
  constructor(trigger) {
    this.trigger = trigger;
    this.root = el("div", { class: "pg-live" });
    this.root.innerHTML = HTML;
    this.q = (sel) => this.root.querySelector(sel);
    this.stream = new LiveStream({ onMessage: (msg) => this.receive(msg),
      onExpired: () => this.trigger("expired", Date.now()) });
    this.q(".pg-play").onclick = () => this.keyCommand("play");
    this.q('[data-testid="pg-step"]').onclick = () => this.keyCommand("step");
    this.q('[data-testid="pg-restart"]').onclick = () => this.stream.send("restart");
    this.chart = this.q(".pg-study-chart");
    this.key = null;
  }

  // "play" (play or pause) or "step": a button or its key (stream.js)
  keyCommand(command) {
    if (command === "step") this.stream.send("step", { epochs: 1 });
    else this.stream.send(this.summary && this.summary.playing ? "pause" : "play");
  }

  update(data) {
    this.data = data;
    usePalettes(data.palettes);
    loadPlotly(data.plotly_src).then(() => {
      const key = JSON.stringify([data.kind, data.labels, data.presenter]);
      if (key !== this.key) { this.key = key; this.build(data); }
      if (data.token !== this.stream.token) {
        this.reset();
        this.stream.connect(data.base_path, data.token, data.protocol);
      }
    });
  }

  build(data) {
    this.root.classList.toggle("pg-presenter", Boolean(data.presenter));
    const row = this.q(".pg-race-row");
    row.innerHTML = "";
    this.cards = [];
    if (data.kind === "race") {
      data.labels.forEach((label, i) => {
        // one button: a click anywhere on it (picture, name, numbers) or Enter opens it
        const card = el("button", { type: "button", class: "pg-card",
          "data-testid": "pg-race-card", title: `open ${label} on its own` }, row);
        card.style.borderColor = this.colour(i);
        const canvas = el("canvas", { width: CARD, height: CARD, "aria-hidden": "true" }, card);
        // the name in dark type (the racer's colour is the card's border and its curve)
        el("span", { class: "pg-card-name" }, card).textContent = data.names[i];
        const numbers = el("span", { class: "pg-card-numbers" }, card);
        card.onclick = () => this.trigger("open", i);
        // the output as the server sends it (palette indices), painted off screen
        this.cards.push({ canvas, numbers, image: document.createElement("canvas") });
      });
    }
    this.reset();
  }

  colour(i) {
    const colours = this.data.series_colours;
    return colours[i % colours.length];
  }

  reset() {
    const n = this.data ? this.data.labels.length : 0;
    this.members = Array.from({ length: n }, () => ({ epoch: [], train: [], test: [] }));
    this.summaries = Array(n).fill(null);
    this.points = Array(n).fill(null); // each racer's own data (a race may vary it)
    this.dirty = true;
    this.schedule();
  }

  receive(msg) {
    if (msg.restart) this.reset();
    this.summary = msg.summary;
    this.error = msg.error;
    if (msg.notice !== undefined) this.notice = msg.notice;
    (msg.members || []).forEach((m, i) => {
      const mine = this.members[i];
      if (!mine) return;
      const rows = m.history;
      mine.epoch.push(...rows.epoch);
      mine.train.push(...rows.train_loss);
      mine.test.push(...rows.test_loss);
      if (mine.epoch.length > MAX_POINTS) {
        for (const key of ["epoch", "train", "test"]) mine[key] = mine[key].filter((_, k) => k % 2 === 0);
      }
      this.summaries[i] = m.summary;
      if (m.points !== undefined) this.points[i] = m.points;
      const card = this.cards[i];
      if (card && m.picture && paintPicture(m.picture.boundary, card.image)) {
        this.drawCard(i); // sent only when it changed
      }
    });
    this.dirty = true;
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = Math.max(0, REDRAW_MS - (performance.now() - (this.drawnAt || 0)));
    setTimeout(() => requestAnimationFrame(() => { this.scheduled = false; this.draw(); }), wait);
  }

  draw() {
    if (!this.dirty || !this.data) return;
    this.dirty = false;
    this.drawnAt = performance.now();
    this.drawStatus();
    this.cards.forEach((_, i) => this.drawCard(i));
    if (this.data.kind === "race") this.drawCurves();
    else this.drawSweep();
  }

  drawStatus() {
    const s = this.summary;
    if (!s) return;
    const sweep = this.data.kind === "sweep";
    this.q(".pg-epoch").textContent = `Epoch ${s.epoch.toLocaleString("en-US")}` +
      (sweep ? ` of ${this.data.epochs.toLocaleString("en-US")}` : "");
    const play = this.q(".pg-play");
    play.textContent = s.playing ? "Pause" : "Play";
    play.classList.toggle("pg-playing", Boolean(s.playing));
    const stopped = this.summaries.filter((m) => m && m.stopped).length;
    const done = s.done && sweep ? "Done: click a point to open that configuration." : "";
    const note = stopped ? `${stopped} stopped (diverged or early stop).` : "";
    this.q(".pg-msg").textContent = this.error || this.notice || [done, note].join(" ").trim();
    this.q(".pg-msg").classList.toggle("pg-warn", Boolean(this.error));
  }

  drawCard(i) {
    const card = this.cards[i];
    if (!card) return;
    const ctx = card.canvas.getContext("2d");
    ctx.clearRect(0, 0, CARD, CARD);
    if (card.image.pgPicture) ctx.drawImage(card.image, 0, 0, CARD, CARD);
    const points = this.points[i];
    if (points && points.train) {
      const e = this.data.extent;
      for (const [x, y, label] of points.train) {
        ctx.beginPath();
        ctx.arc(((x + e) / (2 * e)) * CARD, ((e - y) / (2 * e)) * CARD, 2.2, 0, 2 * Math.PI);
        ctx.fillStyle = points.task === "regression" ? shade(label, this.data.scale)
          : this.data.class_colours[label % this.data.class_colours.length];
        ctx.fill();
        ctx.strokeStyle = "white";
        ctx.lineWidth = 0.6;
        ctx.stroke();
      }
    }
    const s = this.summaries[i];
    const last = (s && s.last) || {};
    card.numbers.textContent = s && s.stopped ? s.stopped.split(":")[0]
      : `test loss ${typeof last.test_loss === "number" ? last.test_loss.toFixed(3) : "–"} · ` +
        percent(s && s.metric, last.test_metric);
    card.numbers.classList.toggle("pg-warn", Boolean(s && s.stopped));
  }

  layout(extra) {
    // the traces' arrays grow in place: a new datarevision tells Plotly.react to look
    this.revision = (this.revision || 0) + 1;
    const fig = { data: [], layout: { height: 300, margin: { l: 55, r: 55, t: 30, b: 45 },
      font: { size: 12 }, legend: { orientation: "h", y: -0.25 }, uirevision: "study",
      datarevision: this.revision, ...extra } };
    if (this.data.presenter) presenterFigure(fig);
    return fig.layout;
  }

  drawCurves() {
    const traces = [];
    this.members.forEach((m, i) => {
      const colour = this.colour(i);
      const name = this.data.labels[i];
      traces.push({ x: m.epoch, y: m.test, name, legendgroup: name, mode: "lines",
        line: { color: colour, width: 2 } });
      traces.push({ x: m.epoch, y: m.train, name: `${name} (training)`, legendgroup: name,
        showlegend: false, mode: "lines", line: { color: colour, width: 1, dash: "dot" } });
    });
    Plotly.react(this.chart, traces, this.layout({
      title: { text: "Loss: test (solid), training (dotted)", font: { size: 13 } },
      xaxis: { title: { text: "epoch" } }, yaxis: { title: { text: "loss" }, rangemode: "tozero" },
    }), exportConfig("playground-race"));
  }

  drawSweep() {
    const d = this.data;
    const last = this.summaries.map((s) => (s && s.last) || {});
    const value = (key) => last.map((r) => (typeof r[key] === "number" ? r[key] : null));
    const metric = (this.summary && this.summary.metric) || "accuracy";
    const scale = metric === "accuracy" ? 100 : 1;
    const text = d.labels.map((label, i) => {
      const s = this.summaries[i];
      return `${label}<br>${s && s.stopped ? s.stopped.split(":")[0] : `epoch ${s ? s.epoch : 0}`}`;
    });
    const metricName = metric === "accuracy" ? "test accuracy (%)" : "test R²";
    const traces = [
      { x: d.values, y: value("train_loss"), name: "training loss", mode: "lines+markers",
        line: { color: "#888", dash: "dot" }, marker: { size: 8 }, text, hoverinfo: "text+y" },
      { x: d.values, y: value("test_loss"), name: "test loss", mode: "lines+markers",
        line: { color: POSITIVE }, marker: { size: 9 }, text, hoverinfo: "text+y" },
      { x: d.values, y: value("test_metric").map((v) => (v === null ? null : v * scale)),
        name: metricName, yaxis: "y2", mode: "lines+markers", line: { color: NEGATIVE },
        marker: { size: 9, symbol: "diamond" }, text, hoverinfo: "text+y" },
    ];
    Plotly.react(this.chart, traces, this.layout({
      title: { text: `Where each ended, against the ${d.knob_title} (click a point to open it)`,
        font: { size: 13 } },
      xaxis: { title: { text: d.knob_title }, type: d.log_x ? "log" : "linear",
        exponentformat: "none", ...(d.log_x ? logTicks(d.values) : {}) },
      yaxis: { title: { text: "loss" }, rangemode: "tozero" },
      yaxis2: { title: { text: metricName }, overlaying: "y", side: "right",
        range: metric === "accuracy" ? [0, 100] : undefined, dtick: metric === "accuracy" ? 25
          : undefined, showgrid: false },
      hovermode: "closest",
    }), exportConfig("playground-sweep"));
    if (!this.chart.__pgClick) {
      this.chart.__pgClick = true;
      this.chart.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        if (point) this.trigger("open", point.pointIndex);
      });
    }
  }
}

export function mount(component) {
  return mountView(component, (trigger) => new StudyView(trigger));
}
