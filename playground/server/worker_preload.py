"""Imported once by the workers' forkserver, before it forks any worker.

Everything a worker needs is imported here, so a new (or restarted) worker
starts in milliseconds. ``gc.freeze`` keeps the collector from writing to every
preloaded object in each child, which would copy those pages anyway.
"""

import gc

import playground.server.worker  # noqa: F401

gc.freeze()
