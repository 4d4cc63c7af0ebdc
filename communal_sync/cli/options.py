"""Every option the commands share, declared once, and the dataclasses that gather them.

Options are ``Annotated`` constants. Those that belong together are fields of one frozen
dataclass per concern (``ApiFlags``, ``ReadFlags``/``IntakeFlags``, ``PlanningFlags``,
``OutputFlags``); a command declares a parameter of that type and ``@flags`` spreads the
dataclass's fields into the command's signature for typer, then hands the command one
instance. So ``plan`` and ``push`` share 20-odd options without writing any of them twice,
and each dataclass turns itself into the core's options in one method.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar, get_type_hints

import typer

from communal_sync.errors import UsageError

R = TypeVar("R")

DEFAULT_CONCURRENCY: Final = 4
STDIN: Final = "-"

API_PANEL: Final = "API & state"
INPUT_PANEL: Final = "Input & mapping"
MATCH_PANEL: Final = "Matching"
PLAN_PANEL: Final = "Plan & safety"
OUTPUT_PANEL: Final = "Output & reports"


class InputFormat(enum.StrEnum):
    csv = "csv"
    json = "json"
    jsonl = "jsonl"


class OnDuplicate(enum.StrEnum):
    error = "error"
    first = "first"
    last = "last"


class OnConflict(enum.StrEnum):
    skip = "skip"
    source = "source"
    communal = "communal"


class PhoneFormat(enum.StrEnum):
    as_is = "as-is"
    e164 = "e164"


class ShowChoice(enum.StrEnum):
    changes = "changes"
    all = "all"


class ReportFormat(enum.StrEnum):
    text = "text"
    json = "json"


# --- arguments and single options -----------------------------------------------------------

FileArg = Annotated[
    str,
    typer.Argument(
        metavar="FILE",
        help="The export to read: a CSV, JSON or JSON Lines file, or - for standard input.",
        show_default=False,
    ),
]
StateOpt = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="PATH",
        help="The state file (default: $COMMUNAL_SYNC_STATE, else the user data directory).",
        rich_help_panel=API_PANEL,
    ),
]
ConcurrencyOpt = Annotated[
    int,
    typer.Option("--concurrency", min=1, max=32, help="Requests in flight at once."),
]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Show the plan; send nothing.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking (for cron).")]
ResumeOpt = Annotated[
    bool,
    typer.Option(
        "--resume", help="Finish the interrupted run of this same file; nothing is sent twice."
    ),
]
DetailedExitcodeOpt = Annotated[
    bool,
    typer.Option(
        "--detailed-exitcode",
        help="Exit 0 when nothing would change, 5 when changes are pending (3 and 4 as usual).",
    ),
]
PlanOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        metavar="PLAN.json",
        help="Save the plan as JSON, to review and `apply` later.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
FailedOutOpt = Annotated[
    Path | None,
    typer.Option(
        "--failed-out",
        metavar="FILE.csv",
        help="Write the source rows that failed, with the reason, to this CSV.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
JsonOpt = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the report as one JSON document on standard output. (Not the same as "
        "--log-format json, given before the command: that writes events on stderr.)",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
RedactOpt = Annotated[
    bool,
    typer.Option(
        "--redact",
        help="Mask personal values in everything printed or written.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        metavar="FILE",
        help="Also write the report to this file: .json, .csv, .md or .html.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
ShowOpt = Annotated[
    ShowChoice,
    typer.Option(
        "--show",
        help="What the terminal plan lists: changes (the default: at most 50 users, "
        "first-time writes over values Communal never shows folded into one line) or all "
        "(every user and every first-time write). --report always has everything.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
QuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print only the summary line (and errors); no progress bar. Exit codes are "
        "unchanged. For cron.",
        rich_help_panel=OUTPUT_PANEL,
    ),
]
FormatOpt = Annotated[
    ReportFormat,
    typer.Option("--format", help="Deprecated spelling of --json (--format json).", hidden=True),
]


# --- option groups ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ApiFlags:
    """How to reach the API: ``--base-url``, ``--api-key-file``, ``--api-version``, sandbox."""

    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            metavar="URL",
            help="The API base URL (default: $COMMUNAL_BASE_URL, else "
            "https://api.getcommunal.com/api).",
            rich_help_panel=API_PANEL,
        ),
    ] = None
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file",
            metavar="FILE",
            help="Read the API key from this file instead of $COMMUNAL_API_KEY. "
            "(There is no flag for the key itself: it would end up in shell history.)",
            rich_help_panel=API_PANEL,
        ),
    ] = None
    api_version: Annotated[
        str | None,
        typer.Option(
            "--api-version",
            metavar="YYYY-MM-DD",
            help="The X-Api-Version to send (default 2026-03-25).",
            rich_help_panel=API_PANEL,
        ),
    ] = None
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="Run against an embedded local sandbox of the API seeded with the demo "
            "organization, with a temporary state file unless --state is given.",
            rich_help_panel=API_PANEL,
        ),
    ] = False
    sandbox_seed: Annotated[
        Path | None,
        typer.Option(
            "--sandbox-seed",
            metavar="FILE",
            help="Seed the embedded sandbox from this JSON file.",
            rich_help_panel=API_PANEL,
        ),
    ] = None

    def options(self) -> Any:
        """The core's ``session.ApiOptions`` (imported here, so ``--help`` never loads it)."""
        from communal_sync.session import ApiOptions

        return ApiOptions(
            base_url=self.base_url,
            api_key_file=self.api_key_file,
            api_version=self.api_version,
            sandbox=self.sandbox,
            sandbox_seed=self.sandbox_seed,
        )


@dataclasses.dataclass(frozen=True)
class ReadFlags:
    """How to read a file: ``--map``, ``--config``, ``--encoding``, ``--input-format``."""

    map_items: Annotated[
        list[str],
        typer.Option(
            "--map",
            metavar="COLUMN=FIELD",
            help='Map a column to a field, e.g. --map "Member No=external_id"; "Column=" '
            "ignores it. Repeatable.",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = dataclasses.field(default_factory=list)
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="A communal-sync.toml file (default: ./communal-sync.toml if present).",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = None
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            metavar="NAME",
            help="Read the file in this encoding instead of detecting it.",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = None
    input_format: Annotated[
        InputFormat | None,
        typer.Option(
            "--input-format",
            help="Read as this format instead of guessing from name and content.",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = None

    def options(self) -> Any:
        """The core's ``intake.ReadOptions``."""
        from communal_sync.intake.settings import ReadOptions

        return ReadOptions(**self._read_fields())

    def _read_fields(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "input_format": self.input_format.value if self.input_format else None,
            "map_items": tuple(self.map_items),
            "config_path": self.config,
        }


@dataclasses.dataclass(frozen=True)
class IntakeFlags(ReadFlags):
    """Reading and judging an export: ``ReadFlags`` plus duplicates and phone region."""

    on_duplicate: Annotated[
        OnDuplicate | None,
        typer.Option(
            "--on-duplicate",
            help="Rows sharing an email, id or external id: error (all invalid, the default), "
            "first or last (keep one, skip the others).",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = None
    default_region: Annotated[
        str | None,
        typer.Option(
            "--default-region",
            metavar="CC",
            help="Country (two letters) for telephone numbers written without a country code.",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = None
    allow_confusable_emails: Annotated[
        bool,
        typer.Option(
            "--allow-confusable-emails",
            help="Accept emails that mix alphabets in one part (a Cyrillic 'а' among Latin "
            "letters) or hold full-width letters. Without it such an email is invalid: it "
            "can pass for someone else's address.",
            rich_help_panel=INPUT_PANEL,
        ),
    ] = False

    def intake_options(self, *, custom_fields: bool | None = None) -> Any:
        """The core's ``intake.IntakeOptions``."""
        from communal_sync.intake.settings import IntakeOptions

        return IntakeOptions(
            **self._read_fields(),
            on_duplicate=self.on_duplicate.value if self.on_duplicate else None,
            default_region=self.default_region,
            custom_fields=custom_fields,
            allow_confusable_emails=self.allow_confusable_emails,
        )


@dataclasses.dataclass(frozen=True)
class PlanningFlags:
    """What a plan decides: conflicts, clears, limits, discovery and custom fields."""

    on_conflict: Annotated[
        OnConflict,
        typer.Option(
            "--on-conflict",
            help="A field edited in Communal since our last push and different in the file: "
            "skip it and report (default), take the file's value (source), or keep "
            "Communal's (communal). Addresses, which Communal never shows, are compared "
            "with what we last pushed: an edit made in Communal cannot be detected there, "
            "so the file's value is sent and the plan marks it as over a value we cannot "
            "read.",
            rich_help_panel=PLAN_PANEL,
        ),
    ] = OnConflict.skip
    allow_clear: Annotated[
        list[str],
        typer.Option(
            "--allow-clear",
            metavar="FIELD",
            help="Let a blank cell clear this field (repeatable): a standard field such as "
            "telephone, custom:<name> (any case), or 'all'. An unknown name is refused. "
            "Required fields are never cleared.",
            rich_help_panel=PLAN_PANEL,
        ),
    ] = dataclasses.field(default_factory=list)
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Re-read everyone, even rows unchanged since the last push.",
            rich_help_panel=MATCH_PANEL,
        ),
    ] = False
    discover: Annotated[
        bool,
        typer.Option(
            "--discover",
            help="Find unknown people by searching program signups for their email (one "
            "exact match).",
            rich_help_panel=MATCH_PANEL,
        ),
    ] = False
    trust_ids: Annotated[
        bool,
        typer.Option(
            "--trust-ids",
            help="Push rows matched by id (or through the identity map) even when Communal's "
            "record shares no name or email with the row. Without it such a row is reported "
            "as mismatched and not pushed, so a shifted or wrong id column cannot overwrite "
            "someone else; pass it only when the file is meant to rename those people.",
            rich_help_panel=MATCH_PANEL,
        ),
    ] = False
    break_email_cycles: Annotated[
        bool,
        typer.Option(
            "--break-email-cycles",
            help="Send a cycle of email changes (two people swapping addresses, or a ring of "
            "them) through a temporary address: the cycle's lowest user id first moves to "
            "their address with +communal-sync-swap, then each takes the address just freed. "
            "Without it such a cycle is reported and not sent (exit 3). Chains (one takes an "
            "address another leaves) are always ordered, with or without it.",
            rich_help_panel=PLAN_PANEL,
        ),
    ] = False
    max_changes: Annotated[
        str | None,
        typer.Option(
            "--max-changes",
            metavar="N|P%",
            help="Refuse if more users than this would change: N or P%.",
            rich_help_panel=PLAN_PANEL,
        ),
    ] = None
    max_clears: Annotated[
        int | None,
        typer.Option(
            "--max-clears",
            metavar="N",
            help="Refuse if more fields than this would be cleared.",
            rich_help_panel=PLAN_PANEL,
        ),
    ] = None
    phone_format: Annotated[
        PhoneFormat,
        typer.Option(
            "--phone-format",
            help="What a changed telephone is sent as: the file's text (as-is, default) or "
            "E.164 such as +14165550101 (e164), read in --default-region, else the row's "
            "profile_country. Numbers are compared by what they dial either way.",
            rich_help_panel=PLAN_PANEL,
        ),
    ] = PhoneFormat.as_is
    custom_fields: Annotated[
        bool | None,
        typer.Option(
            "--custom-fields/--no-custom-fields",
            help="--custom-fields also maps columns named like a Communal custom profile "
            "field; --no-custom-fields ignores custom fields entirely. Default: only columns "
            "mapped as custom:<name>.",
            rich_help_panel=PLAN_PANEL,
        ),
    ] = None

    def options(self) -> Any:
        """The core's ``plan.PlanOptions``; a bad limit or field name is a usage error."""
        from communal_sync.plan import PlanOptions
        from communal_sync.planning.diff import check_allow_clear
        from communal_sync.planning.limits import parse_max_changes

        if self.max_changes is not None:
            parse_max_changes(self.max_changes)
        if self.max_clears is not None and self.max_clears < 0:
            raise UsageError("--max-clears must be 0 or more.")
        return PlanOptions(
            on_conflict=self.on_conflict.value,
            allow_clear=check_allow_clear(self.allow_clear),
            full_refresh=self.full_refresh,
            discover=self.discover,
            trust_ids=self.trust_ids,
            break_email_cycles=self.break_email_cycles,
            max_changes=self.max_changes,
            max_clears=self.max_clears,
            phone_format=self.phone_format.value,
        )


@dataclasses.dataclass(frozen=True)
class OutputFlags:
    """What a run writes and shows: ``--report``, ``--redact``, ``--show``, ``--quiet``,
    ``--json``."""

    report: ReportOpt = None
    redact: RedactOpt = False
    show: ShowOpt = ShowChoice.changes
    quiet: QuietOpt = False
    as_json: JsonOpt = False


FLAG_GROUPS: Final = (ApiFlags, ReadFlags, IntakeFlags, PlanningFlags, OutputFlags)


def flags(command: Callable[..., R]) -> Callable[..., R]:
    """Spread each option-group parameter of ``command`` into its fields, for typer.

    ``def push(file: FileArg, api: ApiFlags, ...)`` is shown to typer as
    ``push(file, base_url, api_key_file, ...)``; when typer calls it, the fields are
    gathered back into one ``ApiFlags`` and ``push`` receives that. Field names are unique
    across groups, so no option can be declared twice.
    """
    hints = get_type_hints(command, include_extras=True)
    signature = inspect.signature(command)
    groups: dict[str, type[Any]] = {}
    parameters: list[inspect.Parameter] = []
    annotations: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        hint = hints.get(name, parameter.annotation)
        if isinstance(hint, type) and hint in FLAG_GROUPS:
            groups[name] = hint
            group_hints = get_type_hints(hint, include_extras=True)
            for item in dataclasses.fields(hint):
                default: Any = item.default
                if item.default_factory is not dataclasses.MISSING:
                    default = item.default_factory()
                parameters.append(
                    inspect.Parameter(
                        item.name,
                        inspect.Parameter.KEYWORD_ONLY,
                        default=default,
                        annotation=group_hints[item.name],
                    )
                )
                annotations[item.name] = group_hints[item.name]
            continue
        kind = inspect.Parameter.KEYWORD_ONLY
        parameters.append(parameter.replace(kind=kind, annotation=hint))
        annotations[name] = hint
    seen = [p.name for p in parameters]
    duplicated = {n for n in seen if seen.count(n) > 1}
    if duplicated:
        raise TypeError(f"{command.__name__}: options declared twice: {sorted(duplicated)}")

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> R:
        for name, group in groups.items():
            names = [item.name for item in dataclasses.fields(group)]
            kwargs[name] = group(**{n: kwargs.pop(n) for n in names})
        return command(**kwargs)

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=parameters, return_annotation=signature.return_annotation
    )
    wrapper.__annotations__ = annotations
    return wrapper
