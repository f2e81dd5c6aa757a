"""Logistic regression on a chunked Dask array, fit with lagrad's gradients on a Dask cluster.

This example ships with lagrad as `lagrad.examples.dask_logistic` (src/lagrad/examples/dask_logistic.py);
this script runs it from a checkout. Run: python examples/dask_logistic.py (needs pip install 'lagrad[dask]')
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("lagrad.examples.dask_logistic", run_name="__main__", alter_sys=True)
