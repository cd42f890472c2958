"""Imported last by the worker processes' fork server (:data:`fcplan.models.workers.PRELOAD`), and
nowhere else: it moves every object the server has imported by then (pandas, statsmodels,
LightGBM, the models) to the garbage collector's permanent generation (:func:`gc.freeze`), as
Python's documentation advises before forking. Each worker forked from the server then leaves
them out of its collections; it walked all of them at its first full collection, writing to
every page they live on, so that the kernel copied those pages for it (copy-on-write): about
0.1 s of CPU a worker (measured: a worker that runs one ``gc.collect()`` cost the fork server's
process tree 0.11-0.14 s of CPU, 0.01-0.03 s with this module preloaded). What the worker
computes does not change."""

import gc

gc.freeze()
