"""`smsfleet countries …`: the countries' per-minute caps from a shell on the host.

`cap` sets one through the service `PATCH /api/v1/countries/{code}` calls, audited as
the host's admin (`cli:<user>`); `ls` reads them from the control plane's config store
directly, as `smsfleet pairs ls` reads the pairs. A control plane reads a country's cap
at each lease (within SMSFLEET_CONFIG_MAX_AGE_SECONDS), so a cap set here takes hold
without a supervisor's tick.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from smsfleet.core.clock import SystemClock, human_time
from smsfleet.core.errors import DomainError, ForceRequired
from smsfleet.pairs.models import MAX_COUNTRY_CAP, Country, CountryUpdate
from smsfleet.sessions.cli import (
    AsJson,
    DataDir,
    Reason,
    ago,
    local_admin,
    open_existing_store,
    settings_for,
)

app = typer.Typer(help="Countries and their per-minute cap.", no_args_is_help=True)

Code = Annotated[str, typer.Argument(help="ISO 3166-1 alpha-2 code, e.g. UZ")]
Cap = Annotated[
    int,
    typer.Argument(
        help=f"SMS per minute, 0..{MAX_COUNTRY_CAP}; 0 halts the country (nothing is sent)",
        show_default=False,
    ),
]
Every = Annotated[bool, typer.Option("--all", help="Every country, not only those with pairs")]
Force = Annotated[
    bool, typer.Option(help="Confirm a cap above SMSFLEET_COUNTRY_CAP_CONFIRM_ABOVE (60)")
]


class CountryListing(Country):
    """A country as `countries ls` lists it."""

    pairs: int


def _error(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(1)


def _refused(exc: ValidationError, cap: int) -> str:
    """What a `CountryUpdate` refused, as a sentence: the cap out of its range, a reason
    too long or not one line."""
    said = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        if field == "cap":
            said.append(
                f"cap {cap} is out of range: 0..{MAX_COUNTRY_CAP} SMS per minute"
                " (0 halts the country)"
            )
        else:
            said.append(f"{field}: {error['msg']}")
    return "; ".join(said)


def _halted(cap: int) -> str:
    return "; halted: nothing is sent until it is raised" if cap == 0 else ""


# `-1` is a cap to refuse, not an option: unknown options are read as arguments.
@app.command("cap", context_settings={"ignore_unknown_options": True})
def set_cap(
    code: Code, cap: Cap, reason: Reason = None, force: Force = False, data_dir: DataDir = None
) -> None:
    """Set a country's cap (SMS per minute; 0 halts it), audited with the reason."""
    from smsfleet.audit import service as audit_service
    from smsfleet.pairs import service

    try:
        data = CountryUpdate(cap=cap, reason=reason)
    except ValidationError as exc:
        raise _error(_refused(exc, cap)) from exc
    settings = settings_for(data_dir)
    store = open_existing_store(settings)
    try:
        before = service.get_country(countries=store.countries, code=code)
        country = service.update_country(
            countries=store.countries,
            audit=store.audit,
            clock=SystemClock(),
            actor=audit_service.actor_of(local_admin()),
            code=code,
            data=data,
            confirm_above=settings.country_cap_confirm_above,
            force=force,
        )
    except DomainError as exc:
        hint = " (--force)" if isinstance(exc, ForceRequired) else ""
        raise _error(exc.message + hint) from exc
    finally:
        store.close()
    if country == before:  # the cap was already this one: nothing written
        typer.echo(f"{country.code}: cap already {country.cap}: nothing changed{_halted(cap)}")
        return
    why = f" ({data.reason})" if data.reason else ""
    typer.echo(f"{country.code}: cap {country.previous_cap} → {country.cap}{why}{_halted(cap)}")


def _changed(country: CountryListing, now: datetime) -> str:
    if country.cap_changed_at is None:
        return "-"
    elapsed = ago((now - country.cap_changed_at).total_seconds())
    return f"{human_time(country.cap_changed_at, now=now)} ({elapsed})"


@app.command("ls")
def list_countries(every: Every = False, as_json: AsJson = False, data_dir: DataDir = None) -> None:
    """List the countries that have pairs (--all: every one): cap, the cap before its last
    change, and when that was."""
    store = open_existing_store(settings_for(data_dir))
    try:
        countries = store.countries.list()
        pairs = Counter(pair.country for pair in store.pairs.list())
    finally:
        store.close()
    listed = [
        CountryListing(**country.model_dump(), pairs=pairs[country.code])
        for country in sorted(countries, key=lambda country: country.code)
        if every or pairs[country.code]
    ]
    if as_json:
        typer.echo(json.dumps([c.model_dump(mode="json") for c in listed], indent=2))
        return
    # CAP: SMS per minute (0: halted). PREVIOUS: the cap before its last change, at CHANGED.
    width = max([len("NAME"), *(len(c.name) for c in listed)])
    typer.echo(f"{'CODE':4} {'NAME':{width}} {'CAP':>6} {'PREVIOUS':>8} {'PAIRS':>5}  CHANGED")
    now = datetime.now(UTC)
    for c in listed:
        previous = "-" if c.previous_cap is None else str(c.previous_cap)
        changed = _changed(c, now)
        if c.cap == 0:
            changed = "halted" if changed == "-" else f"{changed}; halted"
        typer.echo(f"{c.code:4} {c.name:{width}} {c.cap:>6} {previous:>8} {c.pairs:>5}  {changed}")
