"""The state layer: the SQLite store, the resource stores (pools, jobs, tasks) and their documents' types.

The stores decide: every Batch rule about what a request may change lives here, never in the HTTP layer.
They know nothing of processes or of HTTP; they call back into compute only through `Ctx.wake`.
"""
