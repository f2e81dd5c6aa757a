"""`lagrad.examples`: the worked examples, shipped with lagrad so that ``lagrad demo --example
NAME`` runs them from an installed wheel. Each is a module with a ``main(out=..., seed=...)``
and a docstring saying what it shows; ``python -m lagrad.examples.NAME`` runs one too.
"""

#: The examples, in the order ``lagrad demo --help`` lists them.
EXAMPLES = ("heat_equation", "densenet_block", "inception_block", "branches", "maximize")

__all__ = ["EXAMPLES"]
