import { useCallback, useEffect, useMemo, useState } from "react";
import { useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { updatePair } from "../../api/endpoints";
import { ApiError } from "../../api/errors";
import type { Pair, PairStanding, PairState } from "../../api/types";
import { canWrite, useAuth } from "../../auth/AuthContext";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ErrorBanner } from "../../components/ErrorBanner";
import { pairHeldStopped } from "../../components/PairStateNote";
import { Spinner } from "../../components/Spinner";
import { usePairs } from "../../data/pairs";
import { PAIRS_KEY, POLICY_STANDING_KEY, pairLookupsQuery, policyStandingQuery } from "../../data/queries";
import { DeletePairDialog } from "./DeletePairDialog";
import { byKey, matchesFilters, type PairFilters } from "./filters";
import { PairFormDialog } from "./PairFormDialog";
import { PausePairDialog } from "./PausePairDialog";
import { PairsTable, PairsTableSkeleton, PolicyNextLook, type PairActions } from "./PairsTable";
import { PairsToolbar } from "./PairsToolbar";

type OpenDialog =
  | { kind: "add" }
  | { kind: "edit"; pair: Pair }
  | { kind: "delete"; pair: Pair }
  | { kind: "pause"; pair: Pair }
  | { kind: "force-priority"; pair: Pair; message: string }
  // `meanwhile`: the page showed it running; the server's refusal says it was held since.
  | { kind: "mark-held"; pair: Pair; meanwhile?: boolean };

const isForceRequired = (error: unknown): error is ApiError =>
  error instanceof ApiError && error.code === "force_required";

interface PairChange {
  pair: Pair;
  kind: "priority" | "resume" | "mark-and-resume" | "pause";
  force: boolean;
  /** A pause's, shown to everyone. */
  reason?: string;
}

/** Flips a pair's priority, pauses or resumes it; says what was done. */
async function changePair({ pair, kind, force, reason }: PairChange): Promise<string> {
  if (kind === "pause") {
    await updatePair(pair.key, { state: "paused", ...(reason ? { state_reason: reason } : {}) }, force);
    return `${pair.key} paused.`;
  }
  if (kind === "resume") {
    await updatePair(pair.key, { state: "enabled" });
    return `${pair.key} resumed.`;
  }
  if (kind === "mark-and-resume") {
    await updatePair(pair.key, { is_high_priority: true, state: "enabled" });
    return `${pair.key} is now high priority and ${resumedWord(pair)}.`;
  }
  const next = !pair.is_high_priority;
  await updatePair(pair.key, { is_high_priority: next }, force);
  return next ? `${pair.key} is now high priority.` : `${pair.key} is no longer high priority.`;
}

const resumedWord = (pair: Pair): string => (pair.state === "disabled" ? "enabled" : "resumed");

const markHeldMessage = (pair: Pair, meanwhile = false): string =>
  (meanwhile
    ? `${pair.key} was paused or disabled since this page last showed it. `
    : `${pair.key} is ${pair.state}${pair.state_actor ? ` by ${pair.state_actor}` : ""}. `) +
  "A high-priority pair's sessions always run and only an admin can stop them: " +
  `it is ${meanwhile ? "resumed" : resumedWord(pair)} as it is marked. ` +
  `To mark it and keep it ${meanwhile ? "as it is" : pair.state}, edit the pair.`;

const unmarkWarning = (pair: Pair): string =>
  `${pair.key} is high priority: its sessions always run and only an admin can stop them. ` +
  "Unmarked, any operator can stop them, and the policy may pause it when its success drops.";

// Filters live in the URL so a filtered view can be bookmarked and shared.
function useFilters(): [PairFilters, (filters: PairFilters) => void] {
  const [params, setParams] = useSearchParams();
  const filters: PairFilters = {
    q: params.get("q") ?? "",
    country: params.get("country") ?? "",
    state: (params.get("state") ?? "") as PairState | "",
  };
  const update = useCallback(
    (next: PairFilters) => {
      const entries = Object.entries(next).filter(([, value]) => value !== "");
      setParams(new URLSearchParams(entries), { replace: true });
    },
    [setParams],
  );
  return [filters, update];
}

// The policy looks every 30 s by default: its standing is read three times as often, so
// that a pair its next look will pause is seen as such before it is paused (at 30 s it
// was shown half the time), and again as soon as a pair changes (a pause, an edit).
const STANDING_POLL_MS = 10_000;

function usePolicyStanding(pairsUpdatedAt: number): ReadonlyMap<string, PairStanding> {
  const queryClient = useQueryClient();
  const standing = useQuery({ ...policyStandingQuery(), refetchInterval: STANDING_POLL_MS });
  useEffect(() => {
    if (pairsUpdatedAt > 0) void queryClient.invalidateQueries({ queryKey: POLICY_STANDING_KEY });
  }, [pairsUpdatedAt, queryClient]);
  return useMemo(() => new Map((standing.data ?? []).map((entry) => [entry.pair, entry])), [standing.data]);
}

export function PairsPage() {
  const { user } = useAuth();
  const writable = canWrite(user);
  const isAdmin = user?.role === "admin";
  const pairs = usePairs();
  const lookups = useQuery(pairLookupsQuery());
  const standing = usePolicyStanding(pairs.dataUpdatedAt);
  // One policy looks at every pair: any pair's standing says when it looks next.
  const nextLook = [...standing.values()][0]?.next_look_at;
  const queryClient = useQueryClient();
  const [filters, setFilters] = useFilters();
  const [dialog, setDialog] = useState<OpenDialog | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const pairCountries = useMemo(() => {
    const seen = new Map<string, string>();
    for (const pair of pairs.data ?? []) seen.set(pair.country, pair.country_name);
    return [...seen].map(([code, name]) => ({ code, name })).sort((a, b) => a.name.localeCompare(b.name));
  }, [pairs.data]);

  const visible = useMemo(
    () => (pairs.data ?? []).filter((pair) => matchesFilters(pair, filters)).sort(byKey),
    [pairs.data, filters],
  );
  const priority = visible.filter((pair) => pair.is_high_priority);
  const others = visible.filter((pair) => !pair.is_high_priority);

  const finish = (message: string) => {
    setDialog(null);
    setNotice(message);
    void queryClient.invalidateQueries({ queryKey: PAIRS_KEY });
  };

  const change = useMutation({
    mutationFn: changePair,
    onMutate: () => setNotice(null),
    onSuccess: finish,
    onError: (error, { pair }) => {
      if (!isForceRequired(error)) return;
      // Marking a pair held since the page showed it: marked and resumed, asked, as one the
      // page saw held (forced, it would stay held and only an admin could resume it).
      if (!pair.is_high_priority) setDialog({ kind: "mark-held", pair, meanwhile: true });
      else setDialog({ kind: "force-priority", pair, message: error.message });
    },
  });
  // A refusal that needs the force flag opens the confirmation instead.
  const actionError = change.error !== null && !isForceRequired(change.error) ? change.error : null;
  const busyKey = change.isPending ? change.variables.pair.key : null;

  const actions: PairActions | undefined = writable
    ? {
        onEdit: (pair) => setDialog({ kind: "edit", pair }),
        onDelete: (pair) => setDialog({ kind: "delete", pair }),
        onTogglePriority: (pair) =>
          // Lowering a high-priority pair always takes force: asked here first, in the
          // page's own words, rather than after the server's refusal.
          pair.is_high_priority
            ? setDialog({ kind: "force-priority", pair, message: unmarkWarning(pair) })
            : // Marked high priority, a held pair would stay held (the server asks back):
              // the page marks and resumes it in one change, asked first.
              pairHeldStopped(pair)
              ? setDialog({ kind: "mark-held", pair })
              : change.mutate({ pair, kind: "priority", force: false }),
        onResume: (pair) => change.mutate({ pair, kind: "resume", force: false }),
        onPause: (pair) => setDialog({ kind: "pause", pair }),
        mayChangeHighPriority: isAdmin,
      }
    : undefined;

  const hasFilters = filters.q !== "" || filters.country !== "" || filters.state !== "";
  return (
    <section className="page" data-testid="pairs-page">
      <header className="page__header">
        <div>
          <h1>Country-operator pairs</h1>
          <p className="page__subtitle">
            {pairs.data ? `${visible.length} of ${pairs.data.length} pairs` : "Routes the fleet tests"}
            {nextLook !== undefined && (
              <span data-testid="policy-next-look">
                · Policy: <PolicyNextLook at={nextLook} />
              </span>
            )}
            {pairs.isFetching && pairs.data && <Spinner label="Refreshing" />}
          </p>
        </div>
        {writable && (
          <button
            type="button"
            className="button button--primary"
            onClick={() => setDialog({ kind: "add" })}
            disabled={!lookups.data}
            data-testid="add-pair"
          >
            Add pair
          </button>
        )}
      </header>

      <PairsToolbar filters={filters} countries={pairCountries} onChange={setFilters} />

      {notice && (
        <div className="banner banner--success" role="status" data-testid="notice">
          {notice}
        </div>
      )}
      {actionError !== null && <ErrorBanner error={actionError} testId="action-error" />}
      {lookups.error !== null && <ErrorBanner error={lookups.error} onRetry={() => void lookups.refetch()} testId="lookups-error" />}
      {pairs.error !== null && <ErrorBanner error={pairs.error} onRetry={() => void pairs.refetch()} testId="pairs-error" />}

      {pairs.isPending && <PairsTableSkeleton />}
      {pairs.data && (
        <>
          <PairSection title="High priority" testId="priority-section" count={priority.length}>
            <PairsTable
              pairs={priority}
              actions={actions}
              standing={standing}
              busyKey={busyKey}
              emptyText={hasFilters ? "No high-priority pair matches the filters." : "No high-priority pairs."}
            />
          </PairSection>
          <PairSection title="Other pairs" testId="other-section" count={others.length}>
            <PairsTable
              pairs={others}
              actions={actions}
              standing={standing}
              busyKey={busyKey}
              emptyText={hasFilters ? "No pair matches the filters." : "No pairs yet."}
            />
          </PairSection>
        </>
      )}

      {(dialog?.kind === "add" || dialog?.kind === "edit") && (
        <PairFormDialog
          pair={dialog.kind === "edit" ? dialog.pair : undefined}
          countries={lookups.data?.countries ?? []}
          programs={lookups.data?.programs ?? []}
          hosts={lookups.data?.hosts ?? []}
          mayChangeHighPriority={isAdmin}
          onClose={() => setDialog(null)}
          onSaved={(saved, isNew) => finish(isNew ? `${saved.key} added.` : `${saved.key} saved.`)}
        />
      )}
      {dialog?.kind === "delete" && (
        <DeletePairDialog
          pair={dialog.pair}
          mayDeleteHighPriority={isAdmin}
          onClose={() => setDialog(null)}
          onDeleted={(deleted) => finish(`${deleted.key} deleted.`)}
        />
      )}
      {dialog?.kind === "pause" && (
        <PausePairDialog
          pair={dialog.pair}
          onClose={() => setDialog(null)}
          // A high-priority pair's pause is an admin's, acknowledged in the dialog: forced.
          onPause={async (reason) =>
            finish(await changePair({ pair: dialog.pair, kind: "pause", force: dialog.pair.is_high_priority, reason }))
          }
        />
      )}
      {dialog?.kind === "force-priority" && (
        <ConfirmDialog
          title={`Change priority of ${dialog.pair.key}?`}
          confirmLabel="Change anyway"
          acknowledgement="I confirm this change to a high-priority pair."
          testId="force-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => finish(await changePair({ pair: dialog.pair, kind: "priority", force: true }))}
        >
          <p>{dialog.message}</p>
        </ConfirmDialog>
      )}
      {dialog?.kind === "mark-held" && (
        <ConfirmDialog
          title={`Mark ${dialog.pair.key} high priority?`}
          confirmLabel={dialog.pair.state === "disabled" && !dialog.meanwhile ? "Mark and enable" : "Mark and resume"}
          testId="mark-held-dialog"
          onClose={() => setDialog(null)}
          onConfirm={async () => finish(await changePair({ pair: dialog.pair, kind: "mark-and-resume", force: false }))}
        >
          <p>{markHeldMessage(dialog.pair, dialog.meanwhile)}</p>
        </ConfirmDialog>
      )}
    </section>
  );
}

interface PairSectionProps {
  title: string;
  testId: string;
  count: number;
  children: React.ReactNode;
}

function PairSection({ title, testId, count, children }: PairSectionProps) {
  return (
    <section className="pair-section" data-testid={testId} aria-label={title}>
      <h2 className="pair-section__title">
        {title} <span className="count">{count}</span>
      </h2>
      {children}
    </section>
  );
}
