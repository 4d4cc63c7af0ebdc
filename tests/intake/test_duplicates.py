"""In-file duplicates found by the first pass, whatever the shape of a chunk.

The first pass hashes a chunk's key column in C when every value is in its usual form;
a value with a space at the very edge of the chunk must not pass for usual (its key is
trimmed), or two rows of one person would never meet.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import CliResult

from communal_sync.intake.duplicates import external_id_dup_key, index_duplicates

Cli = Callable[..., CliResult]


@pytest.mark.parametrize(
    "rows",
    [
        ["Ann,Lee,dup@example.org", "Bob,Roe,dup@example.org "],
        ["Ann,Lee, dup@example.org", "Bob,Roe,dup@example.org"],
    ],
    ids=["trailing space on the last row", "leading space on the first row"],
)
def test_a_duplicate_email_with_a_space_at_the_edge_of_a_chunk_is_found(
    cli: Cli, tmp_path: Path, rows: list[str]
) -> None:
    export = tmp_path / "e.csv"
    export.write_text("\n".join(["First Name,Last Name,Email", *rows]) + "\n", encoding="utf-8")

    result = cli("validate", str(export), "--format", "json")

    assert result.exit_code == 3, result.stdout
    report = json.loads(result.stdout)
    assert (report["valid"], report["invalid"]) == (0, 2)


def test_an_external_id_with_a_space_at_the_edge_of_a_batch_meets_its_twin() -> None:
    batches = [([2, 3], [["A-1 ", "B-2"]]), ([4], [["A-1"]])]

    index = index_duplicates(batches, ["external_id"])

    (group,) = {g for groups in index.groups_by_ordinal.values() for g in groups}
    assert (group.kind, group.lines) == ("external_id", (2, 4))
    assert external_id_dup_key("A-1 ") == external_id_dup_key("A-1")
