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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [acknowledged, setAcknowledged] = useState(false);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
    } catch (reason) {
      setError(reason);
      setBusy(false);
    }
  };

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
            onClick={() => void confirm()}
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
