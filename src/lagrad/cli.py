"""The `lagrad` command: ``lagrad demo`` shows the seed's network as a linear system, trains it
on real data and draws the pictures; ``lagrad demo --example NAME`` runs a worked example."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from .examples import EXAMPLES


def load_example(name: str) -> ModuleType:
    """The example module ``lagrad.examples.NAME`` (its `main` runs the example). Only the
    examples shipped with lagrad: never a script of that name in the current folder."""
    if name not in EXAMPLES:
        raise SystemExit(f"lagrad demo: no example {name!r}; choose one of {', '.join(EXAMPLES)}")
    return importlib.import_module(f"lagrad.examples.{name}")


def _summary(name: str) -> str:
    """The first line of an example's docstring, read without importing it."""
    spec = importlib.util.find_spec(f"lagrad.examples.{name}")
    try:
        source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
        doc = ast.get_docstring(ast.parse(source)) or ""
    except (OSError, SyntaxError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _examples_help() -> str:
    lines = ["examples (lagrad demo --example NAME):"]
    for name in EXAMPLES:
        lines.append(f"  {name:<16} {_summary(name)}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lagrad",
        description=(
            "lagrad: automatic differentiation as the linear system A λ = b. A computation is a "
            "sequence of equations z_i = f_i(z_a(i)); its gradient is the solution λ of A λ = b, "
            "and back-substitution on A is backpropagation."
        ),
        epilog="Start with `lagrad demo`; `lagrad demo --help` lists its options and the examples.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="print the seed's network as A λ = b, train it on handwritten digits, draw the pictures",
        description=(
            "Trace the seed's network a1 = σ(x w1), a2 = softmax(a1 w2), l = loss(a2, y) and print it as\n"
            "the linear system A λ = b: its equations z1 … z9, the adjoint matrix A with its partials\n"
            "∂f_k/∂z_i, the back-substitution steps, the multipliers λ and their checks. Then train the\n"
            "same network on scikit-learn's handwritten digits with lagrad's gradients, and write the\n"
            "pictures (A's structure, the computation graph, the loss curve) into --out.\n"
            'Needs the demo extra: pip install "lagrad[demo]".'
        ),
        epilog=_examples_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--epochs", type=int, default=20, help="passes over the training images (default: 20)")
    demo.add_argument("--seed", type=int, default=0, help="random seed for data, weights and batches (default: 0)")
    demo.add_argument(
        "--out", type=Path, default=Path("lagrad-demo"), help="folder for the pictures (default: ./lagrad-demo/)"
    )
    demo.add_argument("--no-train", action="store_true", help="print the system and draw it, skip the training")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar (epoch lines instead)")
    demo.add_argument("--example", metavar="NAME", choices=EXAMPLES, help=f"run one example: {', '.join(EXAMPLES)}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "demo":
        parser.print_help()
        return 0
    from .demo import MissingExtra, run  # the demo's imports only when it runs

    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    try:
        if args.example:
            load_example(args.example).main(out=args.out, seed=args.seed)
        else:
            run(
                epochs=args.epochs,
                seed=args.seed,
                out_dir=args.out,
                train_network=not args.no_train,
                progress="lines" if args.no_progress else "bar",
            )
    except MissingExtra as error:
        print(error, file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:  # an example's optional package
        if error.name not in ("matplotlib", "sklearn", "tqdm"):
            raise
        print(f'lagrad demo: {error}; install the demo extra with `pip install "lagrad[demo]"`', file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
