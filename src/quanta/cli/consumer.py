"""``quanta consumer``: what a consumer needs of a port it reads, beyond its contract."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import yaml

from quanta.cli import HomeOption, JsonOption, _mesh
from quanta.cli.output import console, print_json, shown

consumer_app = typer.Typer(
    help=(
        "Register what you (or a product you own) need a port you read to hold: each of its "
        "producer's publishes checks it, and stops when it fails."
    ),
    no_args_is_help=True,
)


@consumer_app.command()
def expect(
    target: Annotated[str, typer.Argument(help="domain.product or domain.product.port")],
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            help="An ODCS quality rule as YAML, e.g. '{metric: nullValues, column: amount, "
            "mustBe: 0}'; repeatable; none withdraws the expectation.",
        ),
    ] = None,
    for_product: Annotated[
        str | None, typer.Option("--for", help="For this product of yours, which reads it.")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register what you need a port to hold (checked at each of its publishes)."""
    rules: list[dict[str, Any]] = []
    for number, text in enumerate(rule or [], 1):
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as error:
            first = str(error).splitlines()[0]
            raise typer.BadParameter(
                f"rule {number} is not YAML: {first}", param_hint="--rule"
            ) from None
        if not isinstance(parsed, dict):
            raise typer.BadParameter(
                f"rule {number} is not a mapping such as {{metric: rowCount, mustBe: 10}}",
                param_hint="--rule",
            )
        rules.append(parsed)
    with _mesh(home, as_json, create=False) as mesh:
        kept = mesh.expect(target, rules, for_product=for_product)
    if as_json:
        print_json(kept.model_dump(mode="json"))
        return
    if not kept.rules:
        console.print(shown(f"{kept.consumer} expects nothing more of {kept.product}.{kept.port}"))
        return
    console.print(
        shown(
            f"{kept.consumer} expects {len(kept.rules)} rule(s) of {kept.product}.{kept.port} "
            f"v{kept.major}: checked at each of its publishes"
        )
    )


@consumer_app.command()
def expectations(
    product: Annotated[str, typer.Argument(help="domain.product")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """What the consumers of a product expect of it."""
    with _mesh(home, as_json, create=False) as mesh:
        found = mesh.expectations(product)
    if as_json:
        print_json([expectation.model_dump(mode="json") for expectation in found])
        return
    for expectation in found:
        console.print(
            shown(f"{expectation.consumer} of {expectation.port} v{expectation.major}:", "bold")
        )
        for written in expectation.rules:
            console.print(shown(f"  {yaml.safe_dump(written, default_flow_style=True).strip()}"))
