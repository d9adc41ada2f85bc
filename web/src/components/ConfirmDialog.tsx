import { useMutation } from "@tanstack/react-query";
import { useState, type ReactNode } from "react";
import { errorMessage } from "../api/errors";
import { Dialog } from "./Dialog";

interface ConfirmDialogProps {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** When set, the user must tick this box before confirming. */
  acknowledgement?: string;
  danger?: boolean;
  onConfirm: () => Promise<void>;
  onClose: () => void;
  testId?: string;
}

export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  acknowledgement,
  danger = false,
  onConfirm,
  onClose,
  testId = "confirm-dialog",
}: ConfirmDialogProps) {
  const [acknowledged, setAcknowledged] = useState(false);
  const confirmation = useMutation({ mutationFn: onConfirm });
  // The caller closes the dialog once the action succeeds: it stays busy until then. A failure stays on screen.
  const busy = confirmation.isPending || confirmation.isSuccess;
  const error = confirmation.error;

  return (
    <Dialog
      title={title}
      onClose={onClose}
      testId={testId}
      footer={
        <>
          <button type="button" className="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className={danger ? "button button--danger" : "button button--primary"}
            onClick={() => confirmation.mutate()}
            disabled={busy || (acknowledgement !== undefined && !acknowledged)}
            data-testid="confirm-button"
          >
            {busy ? "Working…" : confirmLabel}
          </button>
        </>
      }
    >
      {children}
      {acknowledgement !== undefined && (
        <label className="checkbox confirm-ack">
          <input
            type="checkbox"
            checked={acknowledged}
            onChange={(event) => setAcknowledged(event.target.checked)}
            data-testid="confirm-acknowledge"
          />
          {acknowledgement}
        </label>
      )}
      {error !== null && (
        <p className="banner banner--error" role="alert" data-testid="confirm-error">
          {errorMessage(error)}
        </p>
      )}
    </Dialog>
  );
}
