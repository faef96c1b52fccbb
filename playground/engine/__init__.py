"""The engine: config, data, model and training. Imports neither the server nor the page."""
