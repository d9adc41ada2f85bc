import { deletePair } from "../../api/endpoints";
import type { Pair } from "../../api/types";
import { ConfirmDialog } from "../../components/ConfirmDialog";

interface DeletePairDialogProps {
  pair: Pair;
  onDeleted: (pair: Pair) => void;
  onClose: () => void;
}

/** High-priority pairs need an explicit extra acknowledgement and are deleted with force=true. */
export function DeletePairDialog({ pair, onDeleted, onClose }: DeletePairDialogProps) {
  const highPriority = pair.is_high_priority;
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
      {highPriority && (
        <p className="banner banner--warning" data-testid="delete-high-priority-warning">
          This pair is high priority. Only admins may delete it.
        </p>
      )}
    </ConfirmDialog>
  );
}
