from smsfleet.audit.models import AuditAction, AuditEvent

DOCUMENTED_KINDS = {
    "program",
    "pair",
    "session",
    "template",
    "user",
    "api_key",
    "country",
    "search",
    "alert",
    "message",
}


def test_every_action_names_a_documented_kind_of_target() -> None:
    kinds = {action.target_kind for action in AuditAction}
    assert kinds == DOCUMENTED_KINDS
    described = AuditEvent.model_fields["target_kind"].description or ""
    assert all(kind in described for kind in kinds)


def test_an_actions_kind_is_what_its_name_says_it_changes() -> None:
    assert AuditAction.api_key_revoked.target_kind == "api_key"
    assert AuditAction.user_logged_out.target_kind == "user"
