"""A deep equilibrium layer on scikit-learn's digits: trained through `lagrad.fixed_point`.

This example ships with lagrad as `lagrad.examples.deq_digits` (src/lagrad/examples/deq_digits.py);
this script runs it from a checkout. Run: python examples/deq_digits.py [--out DIR]
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.deq_digits", run_name="__main__", alter_sys=True)
