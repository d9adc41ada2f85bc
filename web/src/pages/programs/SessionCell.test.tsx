import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import type { Session } from "../../api/types";
import { SessionCell } from "./SessionCell";

// The ticking clock subscribes to a browser's timer; a fixed moment is enough here.
vi.mock("../../hooks/useTicker", () => ({ useNow: () => 0 }));

const session = (changes: Partial<Session>): Session =>
  ({
    name: "program1_UZ_uzmobile",
    program: "program1",
    pair: "UZ_uzmobile",
    country: "UZ",
    host: "local",
    state: "fatal",
    desired: "running",
    pid: null,
    uptime_seconds: null,
    restarts: 5,
    requested_restarts: 0,
    last_exit_code: 1,
    retry_at: null,
    note: null,
    ...changes,
  }) as Session;

const cell = (shown: Session, pairHeld = false, pairNumberless = false): string =>
  renderToStaticMarkup(
    <table>
      <tbody>
        <tr>
          <SessionCell
            program="program1"
            session={shown}
            receivedAt={0}
            busy={false}
            selected={false}
            pairHeld={pairHeld}
            pairNumberless={pairNumberless}
            onOpen={() => undefined}
          />
        </tr>
      </tbody>
    </table>,
  );

describe("a session's note", () => {
  it("says the supervisor gave up on it, or that its pair is probed", () => {
    const note = "gave up after 4 quick failures: start it again";
    expect(cell(session({ note }))).toContain(note);
    expect(cell(session({ state: "running", note: "pair probed after a pause: at most one send per probe interval" }))).toContain(
      'data-testid="note-program1_UZ_uzmobile"',
    );
  });

  it("warns while a running program's heartbeats are overdue", () => {
    const note = "no heartbeat since 12:01:00 UTC: restarted as hung at 12:02:00 UTC unless one comes";
    const overdue = cell(session({ state: "running", note, hang_restart_at: "2026-12-07T12:02:00Z" }));
    expect(overdue).toContain(note);
    expect(overdue).toContain("session-cell__note--overdue");
    expect(cell(session({ state: "running", note: "pair probed after a pause" }))).not.toContain("--overdue");
  });

  it("says a session of a paused pair is stopping once its SMS in flight have their outcomes", () => {
    const note = "stops once its SMS in flight have their outcomes: its pair was paused by the policy";
    expect(cell(session({ state: "stopping", note }), true)).toContain(note);
  });

  it("says a session held stopped by its pair's want of a number why, not that it should run", () => {
    const note = "pair UZ_uzmobile has no test phone number: it sends nothing until one is added";
    const held = cell(session({ state: "stopped", restarts: 0, note }), false, true);
    expect(held).toContain(note);
    expect(held).not.toContain('data-testid="desired-hint"');
    expect(cell(session({ state: "stopped", restarts: 0, note }))).toContain('data-testid="desired-hint"');
  });

  it("is left to the pair's row when the pair is paused, and absent without one", () => {
    expect(cell(session({ state: "stopped", note: "pair UZ_uzmobile is paused" }), true)).not.toContain("note-program1");
    expect(cell(session({}))).not.toContain("note-program1");
  });
});

describe("a session's exit", () => {
  it("is its last run's, or, while a run is alive after one, how the run before it ended", () => {
    expect(cell(session({ last_exit_code: 3, last_exit: null }))).toContain(">3<");
    // As a person reads it, the same words as the run before's, the code in its title.
    const killed = cell(session({ last_exit_code: -9, last_exit: "killed by signal 9 (SIGKILL)" }));
    expect(killed).toContain(">killed by signal 9 (SIGKILL)<");
    expect(killed).toContain('title="exit code -9"');
    const wentDown = "went down: its runner ended without recording the program's exit (killed?)";
    const runnerKilled = cell(session({ last_exit_code: null, last_exit: wentDown }));
    expect(runnerKilled).toContain("went down: its runner ended");
    expect(runnerKilled).toContain("exit-code--failed");
    const alive = cell(session({ state: "running", last_exit_code: null, previous_exit: "killed by signal 9 (SIGKILL)" }));
    expect(alive).toContain("before: killed by signal 9 (SIGKILL)");
    expect(cell(session({ state: "running", last_exit_code: null, previous_exit: null }))).not.toContain("previous-exit-");
  });

  it("is told whole, however long, in the fact that wraps rather than in a title only", () => {
    // As the API tells a run its supervisor stopped as its pair was paused with sends in flight.
    const stopped =
      "killed by signal 9 (SIGKILL) when stopped (pair UZ_uzmobile is paused: its attempts in flight finish first, at most 150 s)";
    const wentDown = `went down: its runner ended without recording the program's exit (killed?) when stopped (pair UZ_uzmobile is paused: its attempts in flight finish first, at most 150 s)`;
    const exitFact = (markup: string): string => {
      const fact = /<div class="session-cell__exit">(.*?)<\/div>/.exec(markup);
      expect(fact).not.toBeNull();
      return fact?.[1] ?? "";
    };
    const escaped = (text: string): string => text.replaceAll("'", "&#x27;");
    expect(exitFact(cell(session({ last_exit_code: null, last_exit: stopped })))).toContain(`>${escaped(stopped)}<`);
    const alive = cell(session({ state: "running", last_exit_code: null, last_exit: null, previous_exit: wentDown }));
    expect(exitFact(alive)).toContain(`>before: ${escaped(wentDown)}<`);
    // Its label and the short "—" sit in the same fact, beside the others when they fit.
    expect(exitFact(cell(session({ last_exit_code: null, last_exit: null })))).toBe("<dt title=\"How its last run ended\">last run</dt><dd class=\"exit-code\" data-testid=\"exit-code-program1_UZ_uzmobile\">—</dd>");
  });
});
