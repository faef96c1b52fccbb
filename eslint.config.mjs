// ESLint for the page's JavaScript (playground/ui/*.js), run by `make test`.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", "build/"] },
  js.configs.recommended,
  {
    files: ["playground/ui/**/*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module", // Streamlit components v2 load each as an ES module
      globals: {
        ...globals.browser,
        Plotly: "readonly", // plotly.min.js, loaded at run time by live_view.js
      },
    },
  },
  {
    // A fragment, not a module of its own: components.py puts it before
    // live_view.js in one module. Linted as a script so that its
    // `/* exported */` comment marks what live_view.js uses.
    files: ["playground/ui/network_drawing.js"],
    languageOptions: { sourceType: "script" },
  },
];
