"""Imported once by the trainer processes' forkserver, before it forks any trainer.

Everything a trainer needs is imported here, so a new trainer starts in
milliseconds and shares these pages with its siblings (copy-on-write) instead
of holding its own copy. ``gc.freeze`` keeps the collector from writing to
every preloaded object in each child, which would copy those pages anyway.
"""

import gc

import torch._dynamo  # noqa: F401  (loaded by the first optimizer: ~2 s and ~100 MB otherwise)

import playground.session_loop  # noqa: F401

gc.freeze()
