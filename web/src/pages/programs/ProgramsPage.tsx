import { useCallback, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { useMutation, useMutationState, useQueryClient } from "@tanstack/react-query";
import { sessionAction, updatePair } from "../../api/endpoints";
import { errorMessage } from "../../api/errors";
import type { Pair, Session, SessionAction, SessionActionResult, SessionState } from "../../api/types";
import { canWrite, useAuth } from "../../auth/AuthContext";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ErrorBanner } from "../../components/ErrorBanner";
import { Spinner } from "../../components/Spinner";
import { ToastStack, useToasts } from "../../components/Toasts";
import { usePairs } from "../../data/pairs";
import { PAIRS_KEY } from "../../data/queries";
import { patchSession, reloadSessions, useSessions } from "../../data/sessions";
import { ActionResultsPanel } from "./ActionResultsPanel";
import { BulkActionDialog, capitalize } from "./BulkActionDialog";
import {
  groupSessions,
  matchesFilters,
  needsForce,
  programColumns,
  type BulkScope,
  type SessionFilters,
} from "./grouping";
import { HostsBar } from "./HostsBar";
import { LogDrawer } from "./LogDrawer";
import { ProgramsToolbar } from "./ProgramsToolbar";
import { SessionMatrix, type MatrixActions } from "./SessionMatrix";

type OpenDialog =
  | { kind: "bulk"; scope: BulkScope; action: SessionAction }
  | { kind: "high-priority"; session: Session; action: "stop" | "restart" };

interface BulkOutcome {
  title: string;
  results: SessionActionResult[];
}

interface SessionRequest {
  session: Session;
  action: SessionAction;
  force: boolean;
}

/** Sessions and pairs with an action under way, whichever view started it. */
const SESSION_ACTION_KEY = ["session-action"] as const;
const PAIR_RESUME_KEY = ["pair-resume"] as const;

// Filters and the open log live in the URL, so a view can be bookmarked and shared.
function useViewParams() {
  const [params, setParams] = useSearchParams();
  const filters: SessionFilters = {
    country: params.get("country") ?? "",
    program: params.get("program") ?? "",
    state: (params.get("state") ?? "") as SessionState | "",
    host: params.get("host") ?? "",
  };
  const selected = params.get("session");
  const update = useCallback(
    (changes: Partial<SessionFilters> & { session?: string | null }) => {
      setParams(
        (current) => {
          const next = new URLSearchParams(current);
          for (const [key, value] of Object.entries(changes)) {
            if (value) next.set(key, value);
            else next.delete(key);
          }
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );
  return { filters, selected, update };
}

export function ProgramsPage() {
  const { user } = useAuth();
  const writable = canWrite(user);
  const isAdmin = user?.role === "admin";
  const sessions = useSessions();
  const pairs = usePairs();
  const queryClient = useQueryClient();
  const { filters, selected, update } = useViewParams();
  const [dialog, setDialog] = useState<OpenDialog | null>(null);
  const busySessionNames = useMutationState({
    filters: { mutationKey: SESSION_ACTION_KEY, status: "pending" },
    select: (mutation) => (mutation.state.variables as SessionRequest).session.name,
  });
  const busyPairKeys = useMutationState({
    filters: { mutationKey: PAIR_RESUME_KEY, status: "pending" },
    select: (mutation) => (mutation.state.variables as Pair).key,
  });
  const busyNames = useMemo(() => new Set(busySessionNames), [busySessionNames]);
  const busyPairs = useMemo(() => new Set(busyPairKeys), [busyPairKeys]);
  const [outcome, setOutcome] = useState<BulkOutcome | null>(null);
  const toasts = useToasts();

  const all = useMemo(() => sessions.data ?? [], [sessions.data]);
  const pairsByKey = useMemo(() => new Map<string, Pair>((pairs.data ?? []).map((pair) => [pair.key, pair])), [pairs.data]);
  const countries = useMemo(() => {
    const seen = new Map<string, string>();
    for (const session of all) seen.set(session.country, pairsByKey.get(session.pair)?.country_name ?? session.country);
    return [...seen].map(([code, name]) => ({ code, name })).sort((a, b) => a.name.localeCompare(b.name));
  }, [all, pairsByKey]);
  const allPrograms = useMemo(() => programColumns(all), [all]);
  const hosts = useMemo(() => [...new Set(all.map((session) => session.host))].sort(), [all]);
  const pairKeys = useMemo(() => [...new Set(all.map((session) => session.pair))].sort(), [all]);

  const visible = useMemo(() => all.filter((session) => matchesFilters(session, filters)), [all, filters]);
  const groups = useMemo(() => groupSessions(visible, pairsByKey), [visible, pairsByKey]);
  const selectedSession = selected ? all.find((session) => session.name === selected) : undefined;
  const running = all.filter((session) => session.state === "running").length;

  const perform = async ({ session, action, force }: SessionRequest) => {
    const result = await sessionAction(session.name, action, { force });
    if (result.desired) patchSession(queryClient, session.name, { desired: result.desired });
    void reloadSessions(queryClient);
    // A session of a pair that runs none waits for its pair: the answer says so.
    if (result.ok && result.note) toasts.show("warning", `${capitalize(action)} requested for ${session.name}: ${result.note}.`);
    else if (result.ok) toasts.show("success", `${capitalize(action)} requested for ${session.name}.`);
    else toasts.show("error", `${session.name}: ${result.error ?? `${action} failed`}`);
  };

  const act = useMutation({
    mutationKey: SESSION_ACTION_KEY,
    mutationFn: perform,
    onError: (error, { session, action }) => toasts.show("error", `${capitalize(action)} ${session.name}: ${errorMessage(error)}`),
  });

  const run = (session: Session, action: SessionAction) => {
    // A high-priority pair is tested all the time: stopping or restarting one of its
    // sessions (admins only, with force; the cell's buttons are off for others) is
    // confirmed first.
    if (action !== "start" && needsForce(session, action)) {
      setDialog({ kind: "high-priority", session, action });
      return;
    }
    act.mutate({ session, action, force: false });
  };

  const resume = useMutation({
    mutationKey: PAIR_RESUME_KEY,
    mutationFn: (pair: Pair) => updatePair(pair.key, { state: "enabled" }),
    onSuccess: (_, pair) => {
      toasts.show("success", `${pair.key} resumed.`);
      void queryClient.invalidateQueries({ queryKey: PAIRS_KEY });
      void reloadSessions(queryClient);
    },
    onError: (error, pair) => toasts.show("error", `Resume ${pair.key}: ${errorMessage(error)}`),
  });

  const actions: MatrixActions | undefined = writable
    ? {
        run,
        mayForceHighPriority: isAdmin,
        bulk: (scope, action = "start") => setDialog({ kind: "bulk", scope, action }),
        resume: (pair) => resume.mutate(pair),
      }
    : undefined;

  const defaultScope = (): BulkScope => {
    if (filters.country) return { kind: "country", country: filters.country };
    if (filters.program) return { kind: "program", program: filters.program };
    return { kind: "all" };
  };

  const openSession = useCallback((session: Session) => update({ session: session.name }), [update]);
  const closeDrawer = useCallback(() => update({ session: null }), [update]);
  const hasFilters = filters.country !== "" || filters.program !== "" || filters.state !== "" || filters.host !== "";

  return (
    <section className={selected ? "page page--with-drawer" : "page"} data-testid="programs-page">
      <header className="page__header">
        <div>
          <h1>Programs</h1>
          <p className="page__subtitle">
            {sessions.data
              ? `${running} of ${all.length} sessions running${hasFilters ? ` · ${visible.length} shown` : ""}`
              : "Screen sessions of the fleet"}
            {sessions.isFetching && sessions.data && <Spinner label="Refreshing" />}
          </p>
        </div>
        {writable && (
          <button
            type="button"
            className="button button--primary"
            onClick={() => setDialog({ kind: "bulk", scope: defaultScope(), action: "start" })}
            disabled={all.length === 0}
            data-testid="bulk-open"
          >
            Bulk action…
          </button>
        )}
      </header>

      <ProgramsToolbar
        filters={filters}
        countries={countries}
        programs={allPrograms}
        hosts={hosts}
        onChange={(next) => update(next)}
      />
      <HostsBar />

      {outcome && (
        <ActionResultsPanel title={outcome.title} results={outcome.results} onDismiss={() => setOutcome(null)} />
      )}
      {pairs.error !== null && <ErrorBanner error={pairs.error} onRetry={() => void pairs.refetch()} testId="pairs-error" />}
      {sessions.error !== null && (
        <ErrorBanner error={sessions.error} onRetry={() => void sessions.refetch()} testId="sessions-error" />
      )}

      {sessions.isPending && <MatrixSkeleton />}
      {sessions.data && groups.length === 0 && (
        <p className="empty-state" data-testid="sessions-empty">
          {hasFilters
            ? "No session matches the filters."
            : "No sessions yet: assign programs to a country-operator pair to create them."}
        </p>
      )}
      {groups.length > 0 && (
        <SessionMatrix
          groups={groups}
          receivedAt={sessions.dataUpdatedAt}
          actions={actions}
          busyNames={busyNames}
          busyPairs={busyPairs}
          selected={selected}
          onOpen={openSession}
        />
      )}

      {selected && <LogDrawer key={selected} name={selected} session={selectedSession} onClose={closeDrawer} />}

      {dialog?.kind === "bulk" && (
        <BulkActionDialog
          sessions={all}
          initialScope={dialog.scope}
          initialAction={dialog.action}
          countries={countries}
          programs={allPrograms}
          pairs={pairKeys}
          isAdmin={isAdmin}
          onClose={() => setDialog(null)}
          onDone={(title, results) => {
            setDialog(null);
            setOutcome({ title, results });
            void reloadSessions(queryClient);
          }}
        />
      )}
      {dialog?.kind === "high-priority" && (
        <HighPriorityDialog
          session={dialog.session}
          action={dialog.action}
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await perform({ session: dialog.session, action: dialog.action, force: true });
            setDialog(null);
          }}
        />
      )}

      <ToastStack toasts={toasts.toasts} onDismiss={toasts.dismiss} />
    </section>
  );
}

interface HighPriorityDialogProps {
  session: Session;
  action: "stop" | "restart";
  onClose: () => void;
  onConfirm: () => Promise<void>;
}

function HighPriorityDialog({ session, action, onClose, onConfirm }: HighPriorityDialogProps) {
  const stop = action === "stop";
  return (
    <ConfirmDialog
      title={`${capitalize(action)} ${session.name}?`}
      confirmLabel={`${capitalize(action)} anyway`}
      danger
      acknowledgement={
        stop
          ? "I understand this stops testing a high-priority pair."
          : "I understand this stops testing a high-priority pair until its program is back."
      }
      testId={`force-${action}-dialog`}
      onClose={onClose}
      onConfirm={onConfirm}
    >
      <p className="banner banner--warning" data-testid="high-priority-warning">
        {`${session.pair} is a high-priority pair: its sessions are meant to run all the time${stop ? "" : ", and a restart stops its sends until the program is back"}. The ${action} is sent with force and recorded under your name.`}
      </p>
    </ConfirmDialog>
  );
}

function MatrixSkeleton() {
  return (
    <div className="table-wrap" data-testid="sessions-loading" aria-busy="true">
      <table className="table">
        <tbody>
          {Array.from({ length: 4 }, (_, row) => (
            <tr key={row}>
              {Array.from({ length: 4 }, (_, cell) => (
                <td key={cell}>
                  <span className="skeleton" />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
