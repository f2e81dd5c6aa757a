"""Recover an unknown diffusivity profile from final temperatures of a 1-D heat equation.

This example ships with lagrad as `lagrad.examples.heat_equation` (src/lagrad/examples/heat_equation.py);
this script runs it from a checkout. Run: python examples/heat_equation.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.heat_equation", run_name="__main__", alter_sys=True)
