// One session's live stream (server/live.py): messages in, commands out. A dropped
// connection comes back after a second; a session the server no longer knows is
// reported once (the page then starts a fresh one).

// counters the tests and benchmarks read: messages received, redraws, epoch drawn
export const stats = (window.__pgStats = window.__pgStats || { redraws: 0, messages: 0, epoch: 0 });

const utf8 = new TextDecoder();

// A message as protocol.encode_stream makes it: JSON text, or binary: a 4-byte
// big-endian length, that much JSON, then the pictures' bytes, each {"$b": [offset,
// length]} in the JSON (it becomes a Uint8Array view of them, copied from nothing).
export function readMessage(data) {
  if (typeof data === "string") return JSON.parse(data);
  const length = new DataView(data).getUint32(0);
  const blobs = 4 + length;
  return JSON.parse(utf8.decode(new Uint8Array(data, 4, length)), (key, value) => (
    value !== null && typeof value === "object" && value.$b
      ? new Uint8Array(data, blobs + value.$b[0], value.$b[1]) : value));
}

export class LiveStream {
  constructor({ onMessage, onExpired, onOpen = () => {} }) {
    Object.assign(this, { onMessage, onExpired, onOpen });
    this.ws = null;
    this.token = null;
  }

  connect(basePath, token, protocol) {
    this.close();
    Object.assign(this, { basePath, token, protocol });
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${basePath}/live/${token}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.onOpen();
    ws.onmessage = (event) => {
      stats.messages += 1;
      this.onMessage(readMessage(event.data));
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === protocol.close.unknown) {
        this.onExpired();
        return;
      }
      setTimeout(() => {
        if (!this.ws && this.token === token) this.connect(basePath, token, protocol);
      }, 1000);
    };
  }

  // one command of protocol.PAGE_COMMANDS
  send(cmd, extra = {}) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify({ cmd, ...extra }));
    }
  }

  // the page is going away for good: the server frees its session at once
  unload() {
    if (this.ws) { this.ws.onclose = null; this.ws.close(this.protocol.close.unloaded); }
    this.ws = null;
  }

  close() {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); }
    this.ws = null;
    this.token = null;
  }
}

// every mounted view, so a page that goes away can free all their sessions at once
export const views = (window.__pgViews = window.__pgViews || {});

if (!window.__pgUnloadListener) {
  window.__pgUnloadListener = true;
  window.addEventListener("pagehide", (event) => {
    if (event.persisted) return; // kept in the back-forward cache: it may come back
    for (const view of Object.values(views)) view.stream.unload();
  });
}

// -- the keyboard, as in video players: Space plays or pauses, "." steps one epoch ----
// Not while typing (a text field, a number, a Streamlit selectbox's search) and not on
// a control whose own key Space is (a checkbox, a radio button, a menu): there it does
// what it always does. On a button Space plays too (Enter still presses the button).
const TYPING = "input:not([type=checkbox]):not([type=radio]):not([type=range])" +
  ":not([type=button]):not([type=submit]):not([type=reset]):not([type=file])" +
  ", textarea, select, [contenteditable=''], [contenteditable=true], [role=textbox]" +
  ", [role=combobox], [role=searchbox], [role=spinbutton]";
const SPACE_IS_ITS_OWN = "input[type=checkbox], input[type=radio], [role=checkbox]" +
  ", [role=radio], [role=switch], [role=menuitem], [role=option], [role=listbox], [role=tab]";

function shownView() {
  return Object.values(views).find((view) => view.root.isConnected && view.keyCommand);
}

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target instanceof Element ? event.target : null;
  if (target && target.closest(TYPING)) return;
  const command = event.key === " " ? "play" : event.key === "." ? "step" : null;
  if (!command || (command === "play" && target && target.closest(SPACE_IS_ITS_OWN))) return;
  const view = shownView();
  if (!view) return;
  event.preventDefault(); // no page scroll, no second press of a focused button
  if (!event.repeat) view.keyCommand(command);
}

// the first thing Tab reaches: a link that jumps to the shown view's Play button
function addSkipLink() {
  if (document.querySelector(".pg-skip")) return;
  const link = document.createElement("a");
  link.className = "pg-skip";
  link.href = "#";
  link.setAttribute("data-testid", "pg-skip");
  link.textContent = "Skip to the training controls (Play: Space, Step: .)";
  link.onclick = (event) => {
    event.preventDefault();
    const view = shownView();
    const play = view && view.root.querySelector(".pg-play");
    if (play) play.focus();
  };
  document.body.prepend(link);
}

if (!window.__pgKeyListener) {
  window.__pgKeyListener = true;
  document.addEventListener("keydown", onKey);
}

// Mount a view class once per component key; Streamlit may unmount and remount it
// between renders, so only a real removal (after a moment) destroys it.
export function mountView(component, makeView, onCreate = () => {}) {
  const { data, parentElement, setTriggerValue, key } = component;
  const id = key || "view";
  let view = views[id];
  if (!view) {
    view = views[id] = makeView(setTriggerValue);
    onCreate(setTriggerValue);
  }
  view.trigger = setTriggerValue;
  addSkipLink();
  clearTimeout(view.pendingDestroy);
  if (view.root.parentNode !== parentElement) parentElement.appendChild(view.root);
  view.update(data);
  return () => {
    view.pendingDestroy = setTimeout(() => {
      if (!view.root.isConnected) { view.stream.close(); delete views[id]; }
    }, 500);
  };
}
