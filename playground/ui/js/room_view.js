// The teacher's view of a class room: a live grid of the students' tiles, the counts,
// the challenge's leaderboard, the question's tally and the teacher's buttons.
//
// Its stream (server/room_stream.py) sends the room's state and only the tiles that
// changed (each at most twice a second, its picture only when newer). Buttons send
// teacher commands down the stream with the teacher key; the server checks the key.
// Names and every text from students are set as textContent, never as HTML.

import { el } from "./dom.js";
import { pictureURL, usePalettes } from "./pixels.js";
import { LiveStream, mountView, stats } from "./stream.js";

// Tiles shrink as the class grows, so on a projector (1024x768) the grid fills the first
// screen: two rows up to 6 students, three of 12 up to 20, four of 9 up to 30; past that
// the smallest tiles, and a class of 100 scrolls.
const TILE_SIZES = [[6, ""], [20, "pg-some"], [Infinity, "pg-many"]];

function percent(value) {
  return value === null || value === undefined ? "–" : `${(value * 100).toFixed(1)}%`;
}

function metricText(tile) {
  if (tile.metric === "accuracy") return `acc ${percent(tile.test_metric)}`;
  return `R² ${tile.test_metric === null ? "–" : tile.test_metric.toFixed(3)}`;
}

function lossText(value) {
  return value === null || value === undefined ? "–" : value.toFixed(3);
}

class RoomView {
  constructor(trigger) {
    this.trigger = trigger;
    this.tiles = new Map(); // id -> {tile, node, parts}
    this.sortBy = "loss";
    this.root = el("div", { class: "pg-room", "data-testid": "room-view" });
    const bar = el("div", { class: "pg-room-bar" }, this.root);
    this.counts = el("span", { class: "pg-room-counts", "data-testid": "room-counts" }, bar);
    this.counts.textContent = "Waiting for students…";
    const sort = el("span", { class: "pg-room-sort" }, bar);
    sort.append("Sort by ");
    for (const [by, label] of [["loss", "test loss"], ["name", "name"]]) {
      const b = el("button", { class: "pg-room-btn pg-sort", "data-sort": by,
        "data-testid": `room-sort-${by}` }, sort);
      b.textContent = label;
      b.onclick = () => { this.sortBy = by; this.order(); };
    }
    const actions = [
      ["push", "Send my experiment to everyone", "room-push"],
      ["pause_all", "Pause everyone", "room-pause-all"],
      ["play_all", "Play everyone", "room-play-all"],
      ["close", "Close the room", "room-close"],
    ];
    const mine = el("button", { class: "pg-room-btn pg-room-mine", "data-testid": "room-mine" },
      bar);
    mine.textContent = "My experiment ↓"; // below the grid, which fills the first screen
    mine.onclick = () => document.querySelector(".st-key-room_mine")?.scrollIntoView(
      { behavior: "smooth" });
    for (const [action, label, testid] of actions) {
      const b = el("button", { class: `pg-room-btn pg-room-${action}`, "data-testid": testid },
        bar);
      b.textContent = label;
      b.onclick = () => {
        if (action === "close" && !window.confirm("Close the room for everyone?")) return;
        this.command(action);
      };
    }
    const body = el("div", { class: "pg-room-body" }, this.root);
    this.grid = el("div", { class: "pg-room-grid", "data-testid": "room-grid" }, body);
    this.side = el("div", { class: "pg-room-side" }, body);
    this.board = el("div", { class: "pg-room-board", "data-testid": "room-board" }, this.side);
    this.question = el("div", { class: "pg-room-question", "data-testid": "room-tally" },
      this.side);
    this.big = el("div", { class: "pg-room-big", "data-testid": "room-big", hidden: "" },
      this.root);
    this.stream = new LiveStream({ onMessage: (msg) => this.receive(msg),
      onExpired: () => this.showClosed() });
  }

  update(data) {
    usePalettes(data.palettes);
    this.data = data;
    this.sortButtons();
    if (data.key !== this.stream.token) this.stream.connect(data.base_path, data.key, data.protocol);
  }

  command(action, fields = {}) {
    this.stream.send(this.data.protocol.room_command, { action, key: this.data.key, ...fields });
  }

  receive(msg) {
    stats.messages += 1;
    for (const id of msg.gone) {
      const entry = this.tiles.get(id);
      if (entry) { entry.node.remove(); this.tiles.delete(id); }
    }
    for (const tile of msg.tiles) this.drawTile(tile);
    this.room = msg.room;
    this.drawRoom(msg.room);
    this.order();
    if (this.bigId) this.showBig(this.bigId);
  }

  // -- tiles -------------------------------------------------------------------------------
  drawTile(tile) {
    let entry = this.tiles.get(tile.id);
    if (!entry) {
      const node = el("div", { class: "pg-tile", "data-tile": tile.id, "data-testid": "room-tile" });
      const head = el("div", { class: "pg-tile-head" }, node);
      const parts = {
        name: el("span", { class: "pg-tile-name", "data-testid": "room-tile-name" }, head),
        rank: el("span", { class: "pg-tile-rank" }, head),
        remove: el("button", { class: "pg-tile-x", title: "remove from the room",
          "data-testid": "room-tile-remove" }, head),
        img: el("img", { class: "pg-tile-img", alt: "" }, node),
        nums: el("div", { class: "pg-tile-nums", "data-testid": "room-tile-nums" }, node),
        diff: el("div", { class: "pg-tile-diff", "data-testid": "room-tile-diff" }, node),
      };
      parts.remove.textContent = "×";
      parts.remove.onclick = (event) => {
        event.stopPropagation();
        if (window.confirm(`Remove ${entry.tile.name} from the room?`)) {
          this.command("remove", { tile: tile.id });
        }
      };
      node.onclick = () => this.showBig(tile.id);
      entry = { node, parts, tile };
      this.tiles.set(tile.id, entry);
      this.grid.appendChild(node);
    }
    const { parts, node } = entry;
    entry.tile = { ...entry.tile, ...tile };
    if (tile.picture) {  // the student's own output, as every picture travels (pixels.js)
      entry.picture = pictureURL(tile.picture);
      parts.img.src = entry.picture;
      stats.redraws += 1;
    }
    parts.name.textContent = tile.name;
    parts.nums.textContent = tile.away ? "away (reloading?)"
      : `epoch ${tile.epoch.toLocaleString()} · loss ${lossText(tile.test_loss)} · ${metricText(tile)}`;
    parts.diff.textContent = tile.differs || "room's settings";
    node.classList.toggle("pg-tile-away", tile.away);
    node.classList.toggle("pg-tile-paused", !tile.away && !tile.playing);
    node.classList.toggle("pg-tile-differs", Boolean(tile.differs));
  }

  order() {
    const entries = [...this.tiles.values()];
    const loss = (e) => (e.tile.test_loss === null || e.tile.away ? Infinity : e.tile.test_loss);
    entries.sort(this.sortBy === "name"
      ? (a, b) => a.tile.name.localeCompare(b.tile.name)
      : (a, b) => loss(a) - loss(b) || a.tile.name.localeCompare(b.tile.name));
    entries.forEach((e, i) => {
      if (this.grid.children[i] !== e.node) this.grid.insertBefore(e.node, this.grid.children[i] || null);
    });
    const size = TILE_SIZES.find(([most]) => entries.length <= most)[1];
    for (const [, name] of TILE_SIZES) if (name) this.grid.classList.toggle(name, name === size);
    this.sortButtons();
  }

  sortButtons() {
    for (const b of this.root.querySelectorAll(".pg-sort")) {
      b.classList.toggle("pg-on", b.dataset.sort === this.sortBy);
    }
  }

  // -- the room's state ----------------------------------------------------------------
  drawRoom(room) {
    if (room.closed) { this.showClosed(); return; }
    this.counts.textContent = `${room.joined} joined · ${room.playing} playing`
      + (room.locked.length ? ` · locked: ${room.locked.join(", ").replaceAll("_", " ")}` : "");
    const ranks = new Map(room.board.map((row) => [row.tile, row.rank]));
    for (const [id, entry] of this.tiles) {
      const rank = ranks.get(id);
      entry.parts.rank.textContent = rank ? `#${rank}` : "";
    }
    this.board.replaceChildren();
    if (room.challenge) {
      el("div", { class: "pg-side-title" }, this.board).textContent = `Challenge: ${room.challenge}`;
      const list = el("ol", { class: "pg-board-list" }, this.board);
      for (const row of room.board.slice(0, 10)) {
        const item = el("li", {}, list);
        el("b", {}, item).textContent = row.name;
        item.append(` ${row.score}`);
      }
      if (!room.board.length) el("div", { class: "pg-side-note" }, this.board).textContent = "Nobody has reached it yet.";
    }
    this.drawQuestion(room.question);
  }

  drawQuestion(question) {
    this.question.replaceChildren();
    if (!question) return;
    el("div", { class: "pg-side-title" }, this.question).textContent = `Question: ${question.text}`;
    const most = Math.max(1, ...question.tally);
    question.choices.forEach((choice, i) => {
      const row = el("div", { class: "pg-tally-row" }, this.question);
      const label = el("span", { class: "pg-tally-label" }, row);
      label.textContent = (question.revealed && question.correct === i ? "✓ " : "") + choice;
      const bar = el("span", { class: "pg-tally-bar" }, row);
      bar.style.width = `${(60 * question.tally[i]) / most}%`;
      el("span", { class: "pg-tally-n", "data-testid": "room-tally-n" }, row).textContent = String(question.tally[i]);
    });
    el("div", { class: "pg-side-note" }, this.question).textContent = `${question.answered} answered`;
    const buttons = el("div", {}, this.question);
    if (!question.revealed) {
      const reveal = el("button", { class: "pg-room-btn", "data-testid": "room-reveal" }, buttons);
      reveal.textContent = "Reveal the answer";
      reveal.onclick = () => this.command("reveal");
    }
    const down = el("button", { class: "pg-room-btn" }, buttons);
    down.textContent = "Take it down";
    down.onclick = () => this.command("question", { text: null });
  }

  showClosed() {
    this.counts.textContent = "This room is closed.";
    this.stream.close();
  }

  // -- one student, big ------------------------------------------------------------------
  showBig(id) {
    const entry = this.tiles.get(id);
    if (!entry) { this.bigId = null; this.big.hidden = true; return; }
    this.bigId = id;
    const { tile } = entry;
    this.big.hidden = false;
    this.big.replaceChildren();
    const card = el("div", { class: "pg-big-card" }, this.big);
    el("div", { class: "pg-big-name", "data-testid": "room-big-name" }, card).textContent = tile.name;
    if (entry.picture) el("img", { class: "pg-big-img", src: entry.picture, alt: "" }, card);
    el("div", { class: "pg-big-nums" }, card).textContent = entry.parts.nums.textContent;
    el("div", { class: "pg-big-diff" }, card).textContent = tile.differs
      ? `Differs from the room: ${tile.differs}` : "The room's settings";
    const buttons = el("div", { class: "pg-big-buttons" }, card);
    const open = el("button", { class: "pg-room-btn", "data-testid": "room-open-mine" }, buttons);
    open.textContent = "Open as my experiment";
    open.onclick = () => { this.trigger("open", id); this.hideBig(); };
    const close = el("button", { class: "pg-room-btn" }, buttons);
    close.textContent = "Back to the class";
    close.onclick = () => this.hideBig();
  }

  hideBig() {
    this.bigId = null;
    this.big.hidden = true;
  }
}

export function mount(component) {
  return mountView(component, (trigger) => new RoomView(trigger));
}
