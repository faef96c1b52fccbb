"""The server layer: the trainer pool, frames, the live stream. Imports the engine only."""
