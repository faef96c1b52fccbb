// One session's live stream (server/live.py): JSON messages in, commands out. A dropped
// connection comes back after a second; a session the server no longer knows is
// reported once (the page then starts a fresh one).

// counters the tests and benchmarks read: messages received, redraws, epoch drawn
export const stats = (window.__pgStats = window.__pgStats || { redraws: 0, messages: 0, epoch: 0 });

export class LiveStream {
  constructor({ onMessage, onExpired }) {
    Object.assign(this, { onMessage, onExpired });
    this.ws = null;
    this.token = null;
  }

  connect(basePath, token, protocol) {
    this.close();
    Object.assign(this, { basePath, token, protocol });
    if (!token) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}${basePath}/live/${token}`);
    this.ws = ws;
    ws.onmessage = (event) => {
      stats.messages += 1;
      this.onMessage(JSON.parse(event.data));
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
  clearTimeout(view.pendingDestroy);
  if (view.root.parentNode !== parentElement) parentElement.appendChild(view.root);
  view.update(data);
  return () => {
    view.pendingDestroy = setTimeout(() => {
      if (!view.root.isConnected) { view.stream.close(); delete views[id]; }
    }, 500);
  };
}
