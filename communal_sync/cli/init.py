"""``communal-sync init SAMPLE``: write a commented communal-sync.toml from an export's header."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from communal_sync.cli.app import app, handles_errors, stdout_console, warn
from communal_sync.cli.options import INPUT_PANEL, OUTPUT_PANEL, InputFormat
from communal_sync.display import for_terminal
from communal_sync.errors import UsageError

SampleArg = Annotated[
    str,
    typer.Argument(
        metavar="SAMPLE",
        help="A sample export (CSV, JSON or JSON Lines): only its header is read.",
        show_default=False,
    ),
]
InitOutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        metavar="FILE",
        help="Where to write the config (default: ./communal-sync.toml, read by every command).",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force", help="Overwrite the config file if it exists.", rich_help_panel=OUTPUT_PANEL
    ),
]
InitEncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        metavar="NAME",
        help="Read the sample in this encoding instead of detecting it.",
        rich_help_panel=INPUT_PANEL,
    ),
]
InitFormatOpt = Annotated[
    InputFormat | None,
    typer.Option(
        "--input-format",
        help="Read the sample as this format instead of guessing from name and content.",
        rich_help_panel=INPUT_PANEL,
    ),
]


@app.command()
@handles_errors
def init(
    sample: SampleArg,
    out: InitOutOpt = Path("communal-sync.toml"),
    force: ForceOpt = False,
    encoding: InitEncodingOpt = None,
    input_format: InitFormatOpt = None,
) -> None:
    """Write a commented communal-sync.toml with the mapping a sample export would get.

    Each column becomes "Column" = "field", or a comment saying why it is not mapped (with
    a suggestion to uncomment, or how to map it as a custom field). An existing file is
    kept unless --force is given (exit 2). Example: communal-sync init export.csv
    """
    from communal_sync.files import write_private_text
    from communal_sync.intake.config_template import render_template
    from communal_sync.sources.source import open_source

    if out.exists() and not force:
        raise UsageError(
            f"{out} already exists; it is left as it is. Pass --force to overwrite it, or "
            "--out FILE to write another file."
        )
    source = open_source(
        sample, encoding=encoding, input_format=input_format.value if input_format else None
    )
    try:
        for message in source.warnings:
            warn(message)
        template = render_template(source.headers, sample=source.name)
    finally:
        source.close()
    write_private_text(out, template.text)
    mapped, unmapped = len(template.mapped), len(template.unmapped)
    stdout_console().print(
        escape(
            for_terminal(
                f"Wrote {out}: {mapped} {'column' if mapped == 1 else 'columns'} mapped, "
                f"{unmapped} not mapped (each with a comment saying why). Check it with: "
                f"communal-sync validate {sample} --show-mapping"
            )
        ),
        soft_wrap=True,
    )
    if template.missing:
        warn(
            f"No column of {source.name} maps to {', '.join(template.missing)}, which every "
            f"row needs: add an entry for it under [mapping] in {out}."
        )
