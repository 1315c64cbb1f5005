"""The pure core: stdlib only, no I/O, no async. `now` is always a parameter."""
