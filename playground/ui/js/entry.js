// The live view's and the study view's own module (Streamlit components v2 load it from a string):
// it imports the live view's modules from the server, once, and mounts it. They import
// each other by name (./dom.js, ./charts.js, ...), as any ES modules do.

const loading = {}; // by module URL: the live view and the study view share this loader

export default function (component) {
  // a whole URL: this module itself comes from a blob:, which cannot resolve a path
  const url = new URL(component.data.base_path + component.data.js_path, window.location.href);
  if (!loading[url.href]) {
    loading[url.href] = import(url.href);
    // Plotly's bundle is the largest download of a first visit: it starts now, beside
    // the view's modules, not after them (dom.js loads it once; the view waits for it)
    if (component.data.plotly_src) {
      import(new URL("dom.js", url).href).then((dom) => dom.loadPlotly(component.data.plotly_src));
    }
  }
  let cleanup = null;
  let unmounted = false;
  loading[url.href].then((live) => {
    cleanup = live.mount(component);
    if (unmounted) cleanup(); // Streamlit let go of it before the modules arrived
  });
  return () => {
    unmounted = true;
    if (cleanup) cleanup();
  };
}
