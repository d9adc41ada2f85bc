import type { Send } from "../../api/types";
import { Identifier } from "../../components/Identifier";
import { formatDateTime } from "../../format/time";

/** Why a pending send waits, as the server reads it now (its number's code, its program): none otherwise. */
export function waitingReason(send: Pick<Send, "status" | "waiting_reason">): string | null {
  return send.status === "PENDING" ? (send.waiting_reason ?? null) : null;
}

interface SendRowProps {
  send: Send;
  selected: boolean;
  onSelect: (id: string) => void;
}

/** One send of the sends table; a pending one says why it waits, above its last try's error. */
export function SendRow({ send, selected, onSelect }: SendRowProps) {
  const waiting = waitingReason(send);
  return (
    <tr
      className={selected ? "row--selected" : undefined}
      onClick={() => onSelect(send.id)}
      data-testid="send-row"
      data-send-id={send.id}
    >
      <td>{formatDateTime(send.created_at)}</td>
      <td>
        <code>{send.phone}</code>
      </td>
      <td>
        <Identifier value={send.pair} />
      </td>
      <td>
        <span className={`badge badge--send-${send.status.toLowerCase()}`} data-testid="send-status">
          {send.status}
        </span>
      </td>
      <td>{send.tries}</td>
      <td>{send.program ? <Identifier value={`${send.program} / ${send.provider ?? "—"}`} /> : "—"}</td>
      <td className="alert-summary">
        {waiting === null ? (
          (send.error ?? "—")
        ) : (
          <>
            <span data-testid="send-waiting">{waiting}</span>
            {send.error && <div className="muted">{`Last error: ${send.error}`}</div>}
          </>
        )}
      </td>
    </tr>
  );
}
