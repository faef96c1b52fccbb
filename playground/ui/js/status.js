// The live view's frame and its status line: the page's layout, and the epoch, the
// play button's label, the speed, the message and the newest numbers.

export const LIVE_VIEW_HTML = `
      <div class="pg-status">
        <div class="pg-transport">
          <button class="pg-tbtn" data-testid="pg-reset" title="back to epoch 0 with new initial weights">Reset</button>
          <button class="pg-tbtn pg-play" data-testid="pg-play" title="start or stop training (key: Space)">Play</button>
          <button class="pg-tbtn" data-testid="pg-step" title="train one epoch (key: .)">Step</button>
          <button class="pg-tbtn" data-testid="pg-restart" title="back to epoch 0 with the same initial weights (a fair comparison)">Same start</button>
        </div>
        <span class="pg-epoch" data-testid="pg-epoch">Epoch 0</span>
        <span class="pg-rate"></span><span class="pg-msg" data-testid="pg-msg"></span>
        <button class="pg-recover" data-testid="pg-recover" hidden>
          Restart with a 10× smaller learning rate</button></div>
      <div class="pg-main">
        <div class="pg-network-col"><div class="pg-network"></div>
          <div class="pg-under-network"></div></div>
        <div class="pg-output">
          <div class="pg-col-head">Output <span>· what does the network answer, all over the plane?</span></div>
          <div class="pg-boundary-wrap"><canvas class="pg-boundary-img" aria-hidden="true"></canvas>
            <div class="pg-boundary"></div>
            <div class="pg-hover-label" data-testid="pg-hover-label" hidden></div></div>
          <div class="pg-legend" data-testid="pg-legend"></div>
          <div class="pg-toggles">
            <label><input type="checkbox" class="pg-show-test"> Show test data</label>
            <label><input type="checkbox" class="pg-discretize"> Discretize output</label>
            <label class="pg-draw" data-testid="pg-draw">Draw points
              <select class="pg-draw-mode" data-testid="pg-draw-mode"></select></label>
            <label class="pg-draw" title="Drawn points train unless this is ticked; test points turn Show test data on"><input
              type="checkbox" class="pg-draw-test" data-testid="pg-draw-test"> as test points</label>
            <div class="pg-draw-note" data-testid="pg-draw-note" role="status"></div></div>
          <div class="pg-numbers" data-testid="pg-numbers"></div>
          <div class="pg-digits" data-testid="pg-digits"></div>
          <div class="pg-curves-wrap"><div class="pg-curves"></div>
            <canvas class="pg-curves-tail" aria-hidden="true"></canvas></div>
        </div>
      </div>
      <div class="pg-more">
        <div class="pg-hist-w"></div><div class="pg-hist-g"></div>
        <div class="pg-norms"></div><div class="pg-confusion"></div>
      </div>`;

export class StatusBar {
  constructor(q) {
    this.q = q; // querySelector within the live view
    this.samples = []; // [time, epoch] over the last 2 s, for the speed shown
  }

  draw(summary, error, notice) {
    const s = summary;
    this.q(".pg-epoch").textContent = `Epoch ${s.epoch.toLocaleString("en-US")}`;
    const play = this.q(".pg-play");
    play.textContent = s.playing ? "Pause" : "Play";
    play.classList.toggle("pg-playing", Boolean(s.playing));
    this.drawRate(s.epoch, s.playing);
    const warning = error || s.stopped;
    this.q(".pg-msg").textContent = warning || notice || "";
    this.q(".pg-msg").classList.toggle("pg-warn", Boolean(warning));
    this.q(".pg-recover").hidden = !(s.stopped || "").startsWith("Diverged");
    this.drawNumbers(s.metric, s.last);
  }

  drawRate(epoch, playing) {
    const now = performance.now();
    if (!playing) {
      this.samples = [];
      this.q(".pg-rate").textContent = "";
      return;
    }
    this.samples.push([now, epoch]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 2000) {
      this.samples.shift();
    }
    const [t0, e0] = this.samples[0];
    const rate = now > t0 + 200 ? (epoch - e0) / ((now - t0) / 1000) : 0;
    this.q(".pg-rate").textContent = rate > 0 ? `${Math.round(rate)} epochs/s` : "";
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
}
