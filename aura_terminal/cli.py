"""The `aura` command line."""

from __future__ import annotations

from typing import Annotated

import typer

from aura_terminal import demo as demo_module

app = typer.Typer(
    name="aura",
    help="Aura for Python: peer-to-peer identity and communication.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Aura for Python: peer-to-peer identity and communication."""


@app.command()
def demo(
    seed: Annotated[
        int | None,
        typer.Option(
            help="Derive every random input from this seed so the output is reproducible."
        ),
    ] = None,
) -> None:
    """Show the core building blocks: ids, canonical encoding, hashing, policies, keys."""
    demo_module.run(seed)


def main() -> None:
    app()
