import type { Pair, Session, SessionAction } from "../../api/types";
import { Menu } from "../../components/Menu";
import { PairStateNote, pairHeldStopped } from "../../components/PairStateNote";
import { programColumns, type BulkScope, type CountryGroup, type PairRow } from "./grouping";
import { SessionCell, type SessionActions } from "./SessionCell";
import { Identifier } from "../../components/Identifier";

// The pair's column and a program's least width.
const PAIR_COLUMN_PX = 230;
const PROGRAM_COLUMN_MIN_PX = 210;

export interface MatrixActions extends SessionActions {
  bulk: (scope: BulkScope, action?: SessionAction) => void;
  /** Enables a paused or disabled pair again. */
  resume: (pair: Pair) => void;
}

interface SessionMatrixProps {
  groups: readonly CountryGroup[];
  receivedAt: number;
  actions?: MatrixActions | undefined;
  busyNames: ReadonlySet<string>;
  /** Pairs with a change under way (a resume). */
  busyPairs: ReadonlySet<string>;
  selected: string | null;
  onOpen: (session: Session) => void;
}

export function SessionMatrix(props: SessionMatrixProps) {
  return (
    <div className="session-groups">
      {props.groups.map((group) => (
        <CountrySection key={group.code} group={group} {...props} />
      ))}
    </div>
  );
}

function CountrySection({ group, actions, ...rest }: SessionMatrixProps & { group: CountryGroup }) {
  // Columns are the programs this country's pairs run, so no table is mostly empty.
  const programs = programColumns(group.rows.flatMap((row) => [...row.sessions.values()]));
  const running = group.rows.reduce(
    (count, row) => count + [...row.sessions.values()].filter((session) => session.state === "running").length,
    0,
  );
  return (
    <section className="country-section" data-testid={`country-section-${group.code}`} aria-label={group.name}>
      <header className="country-section__header">
        <h2>
          {group.name} <span className="muted">({group.code})</span>
        </h2>
        <span className="count" title="running / sessions">
          {running} / {group.sessionCount} running
        </span>
        {actions && (
          <button
            type="button"
            className="button button--small"
            onClick={() => actions.bulk({ kind: "country", country: group.code })}
            data-testid={`bulk-country-${group.code}`}
          >
            Bulk action…
          </button>
        )}
      </header>
      <div className="table-wrap">
        {/* Fixed columns, the programs' equal: one long exit text no longer moves them from
            the other countries'; narrower than each program's least, the table scrolls. */}
        <table
          className="table session-table"
          style={{ minWidth: PAIR_COLUMN_PX + programs.length * PROGRAM_COLUMN_MIN_PX }}
        >
          <thead>
            <tr>
              <th scope="col" style={{ width: PAIR_COLUMN_PX }}>
                Pair
              </th>
              {programs.map((program) => (
                <th key={program} scope="col" className="mono">
                  <Identifier value={program} />
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {group.rows.map((row) => (
              <SessionRow key={row.key} row={row} programs={programs} actions={actions} {...rest} />
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

interface SessionRowProps extends Omit<SessionMatrixProps, "groups"> {
  row: PairRow;
  programs: readonly string[];
}

function SessionRow({ row, programs, receivedAt, actions, busyNames, busyPairs, selected, onOpen }: SessionRowProps) {
  return (
    <tr data-testid={`session-row-${row.key}`} data-priority={row.isHighPriority ? "high" : "normal"}>
      <th scope="row" className="session-row__pair">
        <div className="session-row__title">
          <div>
            <div className="mono">
              {row.isHighPriority && (
                <span className="priority-star" title="High priority" aria-label="High priority">
                  ★
                </span>
              )}
              <Identifier value={row.key} />
            </div>
            <div className="muted session-row__operator">
              {/* Each isolated: a name written right to left never reorders its neighbour. */}
              <bdi>{row.pair?.operator ?? ""}</bdi>
              {row.pair?.region && (
                <>
                  {" · "}
                  <bdi>{row.pair.region}</bdi>
                </>
              )}
            </div>
            {row.isHighPriority && actions && !actions.mayForceHighPriority && (
              // Said on the row too: a disabled button's title never shows on a touch screen.
              <div className="muted session-row__hint" data-testid={`admin-stop-hint-${row.key}`}>
                Only an admin can stop or restart its sessions.
              </div>
            )}
            {row.pair && <PairStateNote pair={row.pair} onResume={actions?.resume} busy={busyPairs.has(row.key)} />}
          </div>
          {actions && (
            <Menu
              label="Pair"
              testId={`row-menu-${row.key}`}
              items={[
                {
                  label: "Start all",
                  onSelect: () => actions.bulk({ kind: "pair", pair: row.key }, "start"),
                  testId: `row-start-${row.key}`,
                },
                {
                  label: "Restart all",
                  onSelect: () => actions.bulk({ kind: "pair", pair: row.key }, "restart"),
                  testId: `row-restart-${row.key}`,
                },
                {
                  label: "Stop all",
                  danger: true,
                  onSelect: () => actions.bulk({ kind: "pair", pair: row.key }, "stop"),
                  testId: `row-stop-${row.key}`,
                },
              ]}
            />
          )}
        </div>
      </th>
      {programs.map((program) => {
        const session = row.sessions.get(program);
        return (
          <SessionCell
            key={program}
            program={program}
            session={session}
            receivedAt={receivedAt}
            actions={actions}
            busy={session !== undefined && busyNames.has(session.name)}
            selected={session !== undefined && session.name === selected}
            pairHeld={row.pair !== undefined && pairHeldStopped(row.pair)}
            pairNumberless={row.pair !== undefined && row.pair.phone_numbers.length === 0}
            onOpen={onOpen}
          />
        );
      })}
    </tr>
  );
}
