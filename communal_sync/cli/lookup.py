"""Read-only commands on top of the client: ``user ID`` and ``fields``."""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from communal_sync.cli.app import app, handles_errors, stdout_console
from communal_sync.cli.options import ApiFlags, JsonOpt, flags
from communal_sync.display import shown
from communal_sync.fields import MAX_USER_ID, PROFILE_FIELDS

UserIdArg = Annotated[
    int,
    typer.Argument(
        metavar="USER_ID",
        help="The Communal user id.",
        show_default=False,
        min=1,
        max=MAX_USER_ID,
    ),
]


@app.command()
@handles_errors
@flags
def user(user_id: UserIdArg, api: ApiFlags, as_json: JsonOpt = False) -> None:
    """Show one user's current profile and custom profile field values, as Communal has them."""
    from communal_sync.session import open_session

    with open_session(api.options(), state=None, env=os.environ) as session:
        found = session.client.get_user(user_id)
        fields = {f.id: f.name for f in session.client.list_custom_profile_fields()}
        values = session.client.list_custom_profile_field_values(user_id)
    profile = found.raw()
    custom = {
        fields.get(v.custom_profile_field_id or -1, f"#{v.custom_profile_field_id}"): v.value
        for v in values
    }
    if as_json:
        typer.echo(json.dumps({"user": profile, "custom_fields": custom}, indent=2))
        return
    table = Table(title=f"User {user_id}", title_justify="left", show_header=False)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    keys: list[str] = [f for f in ("id", "name", *PROFILE_FIELDS, "updated_at") if f in profile]
    for key in keys:
        table.add_row(key, _cell(profile[key]))
    for name, value in sorted(custom.items(), key=lambda item: str(item[0]).casefold()):
        table.add_row(Text(f"custom:{shown(str(name))}"), _cell(value))
    console = stdout_console()
    console.print(table)
    if not any(f.startswith("profile_") for f in profile):
        console.print(
            "Address fields are not returned by GET /users/{id}; they are shown "
            "by `plan` from the last push's snapshot."
        )


@app.command()
@handles_errors
@flags
def fields(api: ApiFlags, as_json: JsonOpt = False) -> None:
    """List the organization's custom profile field definitions."""
    from communal_sync.session import open_session

    with open_session(api.options(), state=None, env=os.environ) as session:
        definitions = session.client.list_custom_profile_fields()
    if as_json:
        typer.echo(json.dumps([d.raw() for d in definitions], indent=2))
        return
    table = Table(title="Custom profile fields", title_justify="left")
    for column in ("id", "name", "locked", "user editable", "map as"):
        table.add_column(column)
    for definition in definitions:
        table.add_row(
            str(definition.id),
            _cell(definition.name),
            _yes_no(definition.locked),
            _yes_no(definition.user_editable),
            Text(f'--map "Column=custom:{shown(definition.name)}"'),
        )
    stdout_console().print(table)


def _cell(value: Any) -> Text:
    """A value from the API: cut and escaped, like every value shown."""
    return Text("" if value is None else shown(str(value)))


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")
