import type { Pair } from "../api/types";
import { formatRecentMinute } from "../format/time";

const POLICY_ACTOR = "policy";

/** Whether the pair's state holds its sessions stopped: paused or disabled (a probing
 * pair runs its probes). */
export const pairHeldStopped = (pair: Pair): boolean => pair.state === "paused" || pair.state === "disabled";

/** What stopped a pair's sessions, as a sentence: by whom or by the policy, since when, on what evidence. */
export function pairStateText(pair: Pair): string | null {
  if (pair.state === "enabled") {
    return pair.country_halted ? `Its country ${pair.country} is halted (cap 0): its sessions run but are granted no send` : null;
  }
  const byPolicy = pair.state_actor === POLICY_ACTOR;
  const what =
    pair.state === "probing"
      ? "Probing after a policy pause"
      : `${pair.state === "paused" ? "Paused" : "Disabled"} by ${byPolicy ? "policy" : (pair.state_actor ?? "someone")}`;
  // `12:12`, or `Dec 1, 12:12` when not today.
  const when = pair.state_changed_at ? ` — since ${formatRecentMinute(pair.state_changed_at)}` : "";
  // The policy writes "paused by the policy: <evidence>": the evidence is what is worth reading.
  const reason = pair.state_reason?.replace(/^\w+ by the policy: /, "");
  return `${what}${when}${reason ? `: ${reason}` : ""}`;
}

interface PairStateNoteProps {
  pair: Pair;
  /** Absent for read-only users: no Resume button. */
  onResume?: ((pair: Pair) => void) | undefined;
  busy?: boolean;
}

/** A paused, probing or disabled pair says why and since when, with Resume for operators;
 * a pair of a halted country says so. */
export function PairStateNote({ pair, onResume, busy = false }: PairStateNoteProps) {
  const text = pairStateText(pair);
  if (text === null) return null;
  return (
    <div className={`pair-note pair-note--${pair.state}`} data-testid={`pair-note-${pair.key}`}>
      <span>{text}</span>
      {onResume && pair.state !== "enabled" && (
        <button
          type="button"
          className="button button--tiny"
          onClick={() => onResume(pair)}
          disabled={busy}
          data-testid={`resume-${pair.key}`}
          title={`Enable ${pair.key} again: its sessions start`}
        >
          Resume
        </button>
      )}
    </div>
  );
}
