import { keepPreviousData, useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type SubmitEvent } from "react";
import { useSearchParams } from "react-router";
import { cancelSend, retrySend } from "../../api/endpoints";
import { SEND_STATUSES, type Send, type SendStatus, type ThreadItem } from "../../api/types";
import { canWrite, useAuth } from "../../auth/AuthContext";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { ErrorBanner } from "../../components/ErrorBanner";
import { FilterSelect } from "../../components/FilterSelect";
import { SortHeaders, useSort, type SortValue } from "../../components/sorting";
import { Spinner } from "../../components/Spinner";
import { useLiveUpdates } from "../../data/live";
import { SENDS_KEY, conversationQuery, sendListQuery, templatesQuery } from "../../data/queries";
import { formatDateTime } from "../../format/time";
import { NewSendDialog } from "./NewSendDialog";
import { attemptText, smsText } from "./thread";
import { SendRow, waitingReason } from "./SendRow";
import { sendText, sendValues } from "./sendText";

export function MessagesPage() {
  const [params, setParams] = useSearchParams();
  const view = params.get("view") === "conversation" ? "conversation" : "sends";
  const setView = (next: string) => setParams(new URLSearchParams(next === "sends" ? {} : { view: next }), { replace: true });
  return (
    <section className="page" data-testid="messages-page">
      <header className="page__header">
        <div>
          <h1>Messages</h1>
          <p className="page__subtitle">On-demand sends, and every SMS and attempt of a number.</p>
        </div>
      </header>
      <div className="segmented" role="tablist" aria-label="Messages view">
        {(["sends", "conversation"] as const).map((name) => (
          <button
            key={name}
            type="button"
            role="tab"
            aria-selected={view === name}
            className={view === name ? "segmented__item segmented__item--on" : "segmented__item"}
            onClick={() => setView(name)}
            data-testid={`messages-view-${name}`}
          >
            {name === "sends" ? "Sends" : "Conversation"}
          </button>
        ))}
      </div>
      {view === "sends" ? <SendsView /> : <ConversationView />}
    </section>
  );
}

type SendColumn = "created" | "phone" | "pair" | "status" | "tries" | "program" | "error";
const SEND_COLUMNS: ReadonlyArray<{ column: SendColumn; label: string }> = [
  { column: "created", label: "Created" },
  { column: "phone", label: "Phone" },
  { column: "pair", label: "Pair" },
  { column: "status", label: "Status" },
  { column: "tries", label: "Tries" },
  { column: "program", label: "Program / provider" },
  { column: "error", label: "Why it waits / last error" },
];
const SEND_READ: Record<SendColumn, (send: Send) => SortValue> = {
  created: (send) => send.created_at,
  phone: (send) => send.phone,
  pair: (send) => send.pair,
  status: (send) => send.status,
  tries: (send) => send.tries,
  program: (send) => send.program,
  error: (send) => waitingReason(send) ?? send.error,
};
const SEND_NUMERIC: ReadonlySet<SendColumn> = new Set(["created", "tries"]);
const NO_SENDS: Send[] = [];
const WAITING_POLL_MS = 10_000;

function SendsView() {
  const { user } = useAuth();
  const writable = canWrite(user);
  const [status, setStatus] = useState<SendStatus | "">("");
  const sends = useQuery({
    ...sendListQuery(status),
    placeholderData: keepPreviousData,
    // Why a send waits changes without a change of the send (its number's code comes).
    refetchInterval: (query) => (query.state.data?.some((send) => send.status === "PENDING") ? WAITING_POLL_MS : false),
  });
  const templates = useQuery(templatesQuery());
  const [selected, setSelected] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [retryingSent, setRetryingSent] = useState<Send | null>(null);
  const queryClient = useQueryClient();
  useLiveUpdates("sends", SENDS_KEY, 0);

  const act = useMutation({
    mutationFn: ({ action, id }: { action: (id: string) => Promise<unknown>; id: string }) => action(id),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: SENDS_KEY }),
  });
  const current = sends.data?.find((send) => send.id === selected);
  const sorting = useSort(sends.data ?? NO_SENDS, SEND_READ, SEND_NUMERIC);
  return (
    <>
      <div className="toolbar toolbar--alerts">
        <FilterSelect
          name="status"
          allLabel="All statuses"
          options={SEND_STATUSES}
          value={status}
          onChange={setStatus}
          testId="filter-send-status"
        />
        {writable && (
          <button type="button" className="button button--primary" onClick={() => setCreating(true)} data-testid="new-send">
            Send an SMS
          </button>
        )}
      </div>
      {act.error !== null && <ErrorBanner error={act.error} />}
      {sends.error !== null && sends.data === undefined ? (
        <ErrorBanner error={sends.error} onRetry={() => void sends.refetch()} />
      ) : sends.data === undefined ? (
        <Spinner label="Loading sends" />
      ) : sends.data.length === 0 ? (
        <p className="empty-state">No send{status ? ` ${status}` : ""} yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="table sends-table" data-testid="sends-table">
            <colgroup>
              {SEND_COLUMNS.map(({ column }) => (
                <col key={column} className={`sends-table__col--${column}`} />
              ))}
            </colgroup>
            <thead>
              <tr>
                <SortHeaders columns={SEND_COLUMNS} sort={sorting.sort} onSort={sorting.toggle} />
              </tr>
            </thead>
            <tbody>
              {sorting.rows.map((send) => (
                <SendRow key={send.id} send={send} selected={send.id === selected} onSelect={setSelected} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {current && (
        <SendDetail
          send={current}
          writable={writable}
          onCancel={(id) => act.mutate({ action: cancelSend, id })}
          onRetry={(id) => act.mutate({ action: retrySend, id })}
          onRetrySent={setRetryingSent}
        />
      )}
      {retryingSent && (
        <RetrySentDialog
          send={retryingSent}
          onClose={() => setRetryingSent(null)}
          onConfirm={async () => {
            await act.mutateAsync({ action: (id) => retrySend(id, true), id: retryingSent.id });
            setRetryingSent(null);
          }}
        />
      )}
      {creating && (
        <NewSendDialog
          templates={templates.data ?? []}
          onClose={() => setCreating(false)}
          onCreated={(send) => {
            setCreating(false);
            setSelected(send.id);
            void queryClient.invalidateQueries({ queryKey: SENDS_KEY });
          }}
        />
      )}
    </>
  );
}

interface SendDetailProps {
  send: Send;
  writable: boolean;
  onCancel: (id: string) => void;
  onRetry: (id: string) => void;
  /** A retry of a send whose SMS reached the gateway: asked first, as it sends another. */
  onRetrySent: (send: Send) => void;
}

/** Between tries of a pending send: which program takes it, at its next lease. */
function awaitedAttempt(send: Send): string {
  const next = send.programs[send.next_index];
  return send.status === "PENDING" && next ? `none yet: ${next} takes it at its next lease` : "—";
}

function SendDetail({ send, writable, onCancel, onRetry, onRetrySent }: SendDetailProps) {
  const waiting = waitingReason(send);
  const rows: [string, string][] = [
    ["Id", send.id],
    ["Template", send.template_id ?? "—"],
    ["Values", sendValues(send)],
    ["Text", sendText(send)],
    ["Programs, in order", send.programs.map((p, i) => (i === send.next_index && send.status === "PENDING" ? `${p} (next)` : p)).join(" → ")],
    ["Latest attempt", send.attempt_id ?? awaitedAttempt(send)],
    ...(waiting === null ? [] : [["Why it waits", waiting] satisfies [string, string]]),
    ["Reached the gateway", send.sent_at ? formatDateTime(send.sent_at) : send.sent_unknown ? "not known: a try broke off in its send, or never reported" : "—"],
    ["Asked by", send.actor],
    ["Completed", formatDateTime(send.completed_at)],
  ];
  return (
    <section className="panel" data-testid="send-detail">
      <header className="panel__header">
        <h2>
          Send to <code>{send.phone}</code> · <span data-testid="send-detail-status">{send.status}</span>
        </h2>
        {writable && (
          <div>
            {send.status === "PENDING" && !send.attempt_id && (
              <button type="button" className="button button--danger" onClick={() => onCancel(send.id)} data-testid="cancel-send">
                Cancel
              </button>
            )}
            {(send.status === "FAILED" || send.status === "NOT_SENT" || send.status === "CANCELLED") && (
              <button type="button" className="button" onClick={() => (send.sent_at || send.sent_unknown ? onRetrySent(send) : onRetry(send.id))} data-testid="retry-send">
                Retry
              </button>
            )}
          </div>
        )}
      </header>
      <dl className="details">
        {rows.map(([label, value]) => (
          <div key={label}>
            <dt>{label}</dt>
            <dd>{value}</dd>
          </div>
        ))}
      </dl>
    </section>
  );
}

interface RetrySentDialogProps {
  send: Send;
  onClose: () => void;
  onConfirm: () => Promise<void>;
}

function RetrySentDialog({ send, onClose, onConfirm }: RetrySentDialogProps) {
  return (
    <ConfirmDialog title={`Send to ${send.phone} again?`} confirmLabel="Send again" danger testId="retry-sent-dialog" onClose={onClose} onConfirm={onConfirm}>
      <p className="banner banner--warning" data-testid="retry-sent-warning">
        {`${send.sent_at ? `An SMS of this send reached the gateway at ${formatDateTime(send.sent_at)}` : "Whether an SMS of this send left is not known"}: ${send.phone} may already have it. Sent again, it goes through the programs of ${send.pair} in order until one delivers: up to one more SMS per program.`}
      </p>
    </ConfirmDialog>
  );
}

function ConversationView() {
  const [params, setParams] = useSearchParams();
  const phone = params.get("phone") ?? "";
  const [draft, setDraft] = useState(phone);
  const thread = useInfiniteQuery({ ...conversationQuery(phone), enabled: phone !== "" });
  const pages = thread.data?.pages;
  const cursor = thread.hasNextPage ? pages?.at(-1)?.older : null;
  // Newest first, whatever page each item came on.
  const items = (pages ?? []).flatMap((page) => page.items).sort((a, b) => b.at.localeCompare(a.at));
  const loadOlder = () => void thread.fetchNextPage();
  const olderError = thread.isFetchNextPageError ? thread.error : null;
  const search = (event: SubmitEvent) => {
    event.preventDefault();
    setParams(new URLSearchParams({ view: "conversation", phone: draft.trim() }), { replace: true });
  };
  return (
    <>
      <form className="toolbar toolbar--alerts" role="search" onSubmit={search}>
        <input
          className="input"
          placeholder="+998901234567"
          aria-label="Phone number"
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          data-testid="conversation-phone"
        />
        <button type="submit" className="button button--primary" data-testid="conversation-search">
          Show
        </button>
      </form>
      {!phone ? (
        <p className="empty-state">Search a number to see its thread.</p>
      ) : thread.error !== null && thread.data === undefined ? (
        <ErrorBanner error={thread.error} onRetry={() => void thread.refetch()} />
      ) : !thread.data ? (
        <Spinner label="Loading the thread" />
      ) : items.length === 0 ? (
        <p className="empty-state" data-testid="conversation-empty">
          Nothing for {phone} yet.
        </p>
      ) : (
        <>
          <p className="muted" data-testid="conversation-count">
            Newest first · {items.length} shown{cursor ? " · older ones below" : ""}
          </p>
          <ol className="thread" data-testid="conversation">
            {items.map((item) => (
              <ThreadEntry key={`${item.kind}-${item.uuid ?? item.attempt_id ?? item.at}`} item={item} />
            ))}
          </ol>
          {olderError !== null && <ErrorBanner error={olderError} onRetry={loadOlder} />}
          {cursor && (
            <button
              type="button"
              className="button"
              onClick={loadOlder}
              disabled={thread.isFetchingNextPage}
              data-testid="conversation-older"
            >
              {thread.isFetchingNextPage ? "Loading…" : "Older messages"}
            </button>
          )}
        </>
      )}
    </>
  );
}

function ThreadEntry({ item }: { item: ThreadItem }) {
  const sms = item.kind === "sms";
  return (
    <li className={`thread__item thread__item--${item.direction}`} data-testid="thread-item" data-kind={item.kind}>
      <div className="thread__meta">
        {formatDateTime(item.at)} · {sms ? `SMS ${item.direction}` : `attempt by ${item.program ?? "?"} (${item.pair ?? "?"})`}
        {sms && ` · ${item.sender ?? "?"} → ${item.receiver}`}
      </div>
      <div data-testid="thread-text">{sms ? smsText(item) : attemptText(item)}</div>
    </li>
  );
}
