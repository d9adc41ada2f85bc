import { useState } from "react";
import type { Pair } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Field } from "../../components/Field";

interface PausePairDialogProps {
  pair: Pair;
  /** Pauses the pair with the reason given (trimmed; empty when none). */
  onPause: (reason: string) => Promise<void>;
  onClose: () => void;
}

/** Pausing stops a pair's sessions until it is resumed, with a reason others read; a
 * high-priority pair's (an admin's) takes an extra acknowledgement, sent with force. */
export function PausePairDialog({ pair, onPause, onClose }: PausePairDialogProps) {
  const [reason, setReason] = useState("");
  const highPriority = pair.is_high_priority;
  return (
    <ConfirmDialog
      title={`Pause ${pair.key}?`}
      confirmLabel="Pause pair"
      testId="pause-dialog"
      acknowledgement={
        highPriority ? "I understand this is a high-priority pair and want to pause it." : undefined
      }
      onClose={onClose}
      onConfirm={() => onPause(reason.trim())}
    >
      <p>
        Its sessions stop until it is resumed; the success-rate policy neither probes nor resumes a pair a person
        paused.
      </p>
      <Field id="pause-reason" label="Reason (optional, shown to everyone)">
        <input
          id="pause-reason"
          className="input"
          value={reason}
          maxLength={256}
          onChange={(event) => setReason(event.target.value)}
          placeholder="e.g. carrier maintenance until 14:00"
          data-testid="pause-reason"
        />
      </Field>
    </ConfirmDialog>
  );
}
