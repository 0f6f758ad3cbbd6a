"""The advice benchmark: is the LR advice right on recipes it was never tuned on? (issues 17, 20)."""
