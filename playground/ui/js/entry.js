// The live view component's own module (Streamlit components v2 load it from a string):
// it imports the live view's modules from the server, once, and mounts it. They import
// each other by name (./dom.js, ./charts.js, ...), as any ES modules do.

let loading = null;

export default function (component) {
  // a whole URL: this module itself comes from a blob:, which cannot resolve a path
  const url = new URL(component.data.base_path + component.data.js_path, window.location.href);
  loading = loading || import(url.href);
  let cleanup = null;
  let unmounted = false;
  loading.then((live) => {
    cleanup = live.mount(component);
    if (unmounted) cleanup(); // Streamlit let go of it before the modules arrived
  });
  return () => {
    unmounted = true;
    if (cleanup) cleanup();
  };
}
