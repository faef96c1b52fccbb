// Small helpers every part of the live view uses: elements, colours, Plotly.

export const POSITIVE = "#0877bd"; // the TensorFlow Playground's blue: positive, class 1
export const NEGATIVE = "#f59322"; // its orange: negative, class 0
export const SVG = "http://www.w3.org/2000/svg";

export function el(tag, attrs = {}, parent = null, ns = null) {
  const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (parent) parent.appendChild(node);
  return node;
}

// Plotly's bundle comes from the server (the page works without internet), once
export function loadPlotly(src) {
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
// (``height`` and ``left`` margin where a figure has a place of its own to fit)
export function presenterFigure(fig, { height = null, left = 34 } = {}) {
  fig.layout.font = { ...(fig.layout.font || {}), size: 16 };
  if (height) fig.layout.height = height;
  else if (fig.layout.height) fig.layout.height = Math.round(fig.layout.height * 1.35);
  // the tick labels, at 16 px, need more than the small figures' margins
  const m = fig.layout.margin;
  if (m) fig.layout.margin = { ...m, l: Math.max(m.l || 0, left), b: Math.max(m.b || 0, 30) };
  if (fig.layout.legend) fig.layout.legend.font = { size: 15 };
  // room for the larger tick labels (the right axis's "100%" of the curves)
  if (fig.layout.margin) fig.layout.margin = { ...fig.layout.margin, r: Math.max(fig.layout.margin.r || 0, 48) };
  for (const trace of fig.data) {
    if (trace.line) trace.line = { ...trace.line, width: 3 };
    if (trace.marker && trace.mode === "markers") trace.marker = { ...trace.marker, size: 9 };
  }
}

// Every chart's mode bar (on hover): download it as PNG or SVG. ``before(gd)`` may put
// something into the figure for the file and return how to take it out again.
export function exportConfig(filename, before = null) {
  const download = (format) => async (gd) => {
    const restore = before ? await before(gd) : null;
    try {
      await Plotly.downloadImage(gd, { format, filename, scale: format === "png" ? 2 : 1 });
    } finally {
      if (restore) await restore();
    }
  };
  return {
    displaylogo: false, responsive: false,
    modeBarButtons: [[
      { name: "PNG", title: "Download as PNG", icon: Plotly.Icons.camera, click: download("png") },
      { name: "SVG", title: "Download as SVG", icon: Plotly.Icons.disk, click: download("svg") },
    ]],
  };
}
