import { useQuery } from "@tanstack/react-query";
import { deletePair } from "../../api/endpoints";
import type { Pair } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Dialog } from "../../components/Dialog";
import { sessionsQuery } from "../../data/sessions";
import { deleteStopsSessions } from "./pairForm";

interface DeletePairDialogProps {
  pair: Pair;
  /** Admins only: others are told so, with nothing to confirm. */
  mayDeleteHighPriority: boolean;
  onDeleted: (pair: Pair) => void;
  onClose: () => void;
}

/** High-priority pairs are deleted by an admin only, after an explicit extra acknowledgement, with force=true. */
export function DeletePairDialog({ pair, mayDeleteHighPriority, onDeleted, onClose }: DeletePairDialogProps) {
  const highPriority = pair.is_high_priority;
  // Deleting a pair stops its running sessions: how many is read from the session list.
  const sessions = useQuery(sessionsQuery());
  if (highPriority && !mayDeleteHighPriority) {
    return (
      <Dialog
        title={`Delete ${pair.key}?`}
        testId="delete-dialog"
        onClose={onClose}
        footer={
          <button type="button" className="button" onClick={onClose}>
            Close
          </button>
        }
      >
        <p className="banner banner--warning" data-testid="delete-high-priority-warning">
          This pair is high priority. Only an admin can delete it.
        </p>
      </Dialog>
    );
  }
  return (
    <ConfirmDialog
      title={`Delete ${pair.key}?`}
      confirmLabel="Delete pair"
      danger
      testId="delete-dialog"
      acknowledgement={
        highPriority ? "I understand this is a high-priority pair and want to delete it." : undefined
      }
      onClose={onClose}
      onConfirm={async () => {
        await deletePair(pair.key, highPriority);
        onDeleted(pair);
      }}
    >
      <p>
        {pair.operator} ({pair.country_name}) will be removed with its {pair.phone_numbers.length} test number(s)
        and program assignments.
      </p>
      <p data-testid="delete-stops-sessions">{deleteStopsSessions(pair, sessions.data)}</p>
      {highPriority && (
        <p className="banner banner--warning" data-testid="delete-high-priority-warning">
          This pair is high priority. Only admins may delete it.
        </p>
      )}
    </ConfirmDialog>
  );
}
