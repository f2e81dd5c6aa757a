"""Steady-state heat with a conductivity κ(u): recovered from measurements through `lagrad.root`.

This example ships with lagrad as `lagrad.examples.steady_heat` (src/lagrad/examples/steady_heat.py);
this script runs it from a checkout. Run: python examples/steady_heat.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.steady_heat", run_name="__main__", alter_sys=True)
