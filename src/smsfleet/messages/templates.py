"""Message templates. Keyword-only functions taking the config store's templates."""

from __future__ import annotations

from smsfleet.audit import service as audit_service
from smsfleet.audit.models import Actor, AuditAction, AuditEvent
from smsfleet.core.clock import Clock
from smsfleet.core.errors import Conflict, NotFound, ValidationFailed
from smsfleet.core.records import (
    EventLog,
    RecordStore,
    change_record,
    holds_already,
    stamp_after,
)
from smsfleet.messages.models import (
    MAX_TEXT,
    Template,
    TemplateCreate,
    TemplateUpdate,
    placeholders,
)

__all__ = [
    "check_params",
    "create_template",
    "delete_template",
    "get_template",
    "list_templates",
    "render",
    "update_template",
]


def list_templates(*, templates: RecordStore[Template]) -> list[Template]:
    return templates.list()


def get_template(*, templates: RecordStore[Template], template_id: str) -> Template:
    found = templates.get(template_id)
    if found is None:
        raise NotFound(f"no template {template_id!r}")
    return found


def create_template(
    *,
    templates: RecordStore[Template],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    data: TemplateCreate,
    max_templates: int | None = None,
) -> Template:
    """Add a template, audited: refused (409) when there are `max_templates` already
    (None: no bound). Looked at again once it is written, as two replicas may each add
    one on what they read: the template is then taken back and refused."""
    now = clock.now()
    template = Template(**data.model_dump(), created_at=now, updated_at=now)
    _check_template_room(templates, max_templates)
    templates.add(template)
    try:
        _check_template_room(templates, max_templates, besides=template.id)
    except Conflict:
        templates.delete(template.id)
        raise
    audit_service.record(
        audit, clock, actor, AuditAction.template_created, template.id, before=None, after=template
    )
    return template


def _check_template_room(
    templates: RecordStore[Template], max_templates: int | None, *, besides: str = ""
) -> None:
    """No more than `max_templates` templates (None: no bound): their listing returns
    them all, each with up to 20 provider bodies. `besides`: the one already written."""
    if max_templates is None:
        return
    Conflict.check_room(
        sum(1 for template in templates.list() if template.id != besides),
        1,
        max_templates,
        would="there would be {total} message templates",
        setting="SMSFLEET_MAX_TEMPLATES",
        remedy="remove unused templates, or raise it",
    )


def update_template(
    *,
    templates: RecordStore[Template],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    template_id: str,
    data: TemplateUpdate,
) -> Template:
    """Change a template's name or wording, audited."""
    wanted = data.model_dump()

    def change(read: Template) -> dict[str, object]:
        if holds_already(read, wanted):
            return {}  # as it is already: nothing written, nothing audited
        return {**wanted, "updated_at": stamp_after(read.updated_at, clock.now())}

    # Written only while the template is as read (`change_record`): of two edits made at
    # once, the later is decided again on the earlier, and the audit shows each in turn.
    current, template = change_record(
        templates,
        template_id,
        change,
        read=lambda: get_template(templates=templates, template_id=template_id),
        decided_on={"updated_at"},  # moved on by every change (`stamp_after`)
        what=f"template {template_id!r}",
    )
    if template == current:
        return template
    audit_service.record(
        audit,
        clock,
        actor,
        AuditAction.template_updated,
        template_id,
        before=current,
        after=template,
    )
    return template


def delete_template(
    *,
    templates: RecordStore[Template],
    audit: EventLog[AuditEvent],
    clock: Clock,
    actor: Actor,
    template_id: str,
) -> None:
    """Remove a template, audited."""
    current = get_template(templates=templates, template_id=template_id)
    if not templates.delete(template_id):
        raise NotFound(f"no template {template_id!r}")
    audit_service.record(
        audit, clock, actor, AuditAction.template_deleted, template_id, before=current, after=None
    )


def check_params(template: Template, params: dict[str, str]) -> None:
    """Every placeholder of the template's bodies has a value, and every body filled with
    them is a text an SMS may carry (`MAX_TEXT`), or ValidationFailed."""
    needed = placeholders(template.body).union(
        *(placeholders(body) for body in template.provider_bodies.values())
    )
    missing = sorted(needed - set(params))
    if missing:
        raise ValidationFailed(
            f"template {template.id} needs {', '.join(missing)}",
            details=[{"field": f"params.{name}", "message": "required"} for name in missing],
        )
    bodies = {"": template.body, **template.provider_bodies}
    for provider, body in bodies.items():
        length = len(body.format_map(params))
        if length > MAX_TEXT:
            whose = f"{provider}'s body" if provider else "body"
            raise ValidationFailed.for_field(
                "params",
                f"fills template {template.id}'s {whose} to {length} characters, over {MAX_TEXT}",
                message=f"template {template.id}'s {whose} filled with these params is"
                f" {length} characters: an SMS text is at most {MAX_TEXT}",
            )


def render(template: Template, params: dict[str, str], provider: str) -> str:
    """The provider's body (the default one when it has none), filled with `params`."""
    body = template.provider_bodies.get(provider, template.body)
    check_params(template, params)
    return body.format_map(params)
