"""What one below the operator role reads of sends and SMS: no one-time code.

A send's values are its secrets (a code, a name), and so is any text they were filled
into. An SMS's own text is hidden too, received or sent: a received one may carry the
code a send hides (sent to one of the fleet's numbers) or a provider's live code, and a
viewer has no use for it that its time, numbers and attempt do not serve (docs/security.md).
"""

from __future__ import annotations

from smsfleet.auth.models import Role
from smsfleet.core.errors import NotFound, ValidationFailed
from smsfleet.core.records import RecordStore
from smsfleet.messages.models import (
    REDACTED,
    Conversation,
    RedactedConversation,
    RedactedSeedConversation,
    RedactedSend,
    RedactedThreadItem,
    SeedConversation,
    Send,
    Template,
    ThreadItem,
)
from smsfleet.messages.templates import get_template, render

__all__ = [
    "redacted_conversation",
    "redacted_seed_conversation",
    "redacted_send",
    "sees_codes",
]


def sees_codes(role: Role) -> bool:
    """Whether `role` (a user's, or the scope an API key acts as) reads sends in full."""
    return role.allows(Role.operator)


def redacted_send(send: Send, templates: RecordStore[Template]) -> RedactedSend:
    """`send` with each value hidden, and its text as its template words it around them."""
    hidden = dict.fromkeys(send.params, REDACTED)
    sent_text = None
    if send.sent_text is not None:
        sent_text = REDACTED
        if send.template_id is not None:
            # Filled anew with the masks, not masked in the text sent: a value found in the
            # text by search could be cut short by another one overlapping it.
            try:
                template = get_template(templates=templates, template_id=send.template_id)
                sent_text = render(template, hidden, send.provider or "")
            except (NotFound, ValidationFailed):  # changed or removed since: nothing to word
                pass
    return RedactedSend.model_validate(
        {
            **send.model_dump(),
            "params": hidden,
            "text": REDACTED if send.text is not None else None,
            "sent_text": sent_text,
        }
    )


def redacted_conversation(conversation: Conversation) -> RedactedConversation:
    """The thread without its SMS's texts; its attempts (which hold none) as they are."""
    items: list[RedactedThreadItem | ThreadItem] = [
        RedactedThreadItem.model_validate(item.model_dump(exclude={"text", "redacted"}))
        if item.kind == "sms"
        else item
        for item in conversation.items
    ]
    return RedactedConversation(phone=conversation.phone, items=items, older=conversation.older)


def redacted_seed_conversation(conversation: SeedConversation) -> RedactedSeedConversation:
    return RedactedSeedConversation(
        redacted=True,
        messages=[m.model_copy(update={"message_text": REDACTED}) for m in conversation.messages],
    )
