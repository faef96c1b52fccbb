// ESLint for the page's JavaScript (playground/ui/**/*.js), run by `make test`.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["node_modules/", ".venv/", "build/", "playground/ui/vendor/"] },
  js.configs.recommended,
  {
    files: ["playground/ui/**/*.js"],
    languageOptions: {
      ecmaVersion: "latest",
      sourceType: "module", // Streamlit components v2 load each as an ES module
      globals: {
        ...globals.browser,
        Plotly: "readonly", // vendor/plotly-basic.min.js, loaded at run time (js/dom.js)
      },
    },
  },
];
