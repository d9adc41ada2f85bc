import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LiveSocket, REFUSED_DELAY_MS, TOO_MANY_CLOSE, type LiveStatus } from "./socket";

/** The browser's WebSocket as far as LiveSocket uses it: each one made is kept to drive. */
class FakeSocket {
  static readonly OPEN = 1;
  static made: FakeSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.made.push(this);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(): void {
    this.readyState = 3;
  }

  /** The server accepts the connection and then the token. */
  signIn(): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
    this.onmessage?.({ data: JSON.stringify({ topic: "auth", data: { username: "viewer" } }) });
  }

  /** The server accepts the connection, reads the token, and closes it with `code`. */
  openThenClose(code: number, reason: string): void {
    this.readyState = FakeSocket.OPEN;
    this.onopen?.();
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/** Fake timers, and the browser's WebSocket and window as LiveSocket uses them. */
function stubBrowser(): void {
  vi.useFakeTimers();
  FakeSocket.made = [];
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("window", {
    location: { protocol: "http:", host: "control-plane.test" },
    setTimeout: (run: () => void, ms: number) => setTimeout(run, ms),
    clearTimeout: (id: number) => clearTimeout(id),
  });
}

function unstubBrowser(): void {
  vi.useRealTimers();
  vi.unstubAllGlobals();
}

describe("LiveSocket refused for too many open sockets", () => {
  let live: LiveSocket;
  let statuses: LiveStatus[];
  const renewals = vi.fn(() => Promise.resolve());

  beforeEach(() => {
    stubBrowser();
    renewals.mockClear();
    live = new LiveSocket({ token: () => "token", beforeRetry: renewals, url: "ws://control-plane.test/api/v1/ws" });
    statuses = [];
    live.onStatus((status) => statuses.push(status));
    live.start();
  });

  afterEach(() => {
    live.stop();
    unstubBrowser();
  });

  it("says why and does not try again for a while", () => {
    FakeSocket.made[0]?.openThenClose(TOO_MANY_CLOSE, "too many live sockets: at most 10 per user");
    expect(live.getStatus()).toBe("refused");
    expect(live.getRefusal()).toBe("too many live sockets: at most 10 per user");
    // No retry in a tight loop: nothing for the first half of the delay.
    vi.advanceTimersByTime(REFUSED_DELAY_MS / 2 - 1);
    expect(FakeSocket.made).toHaveLength(1);
    vi.advanceTimersByTime(REFUSED_DELAY_MS / 2 + 1);
    expect(FakeSocket.made).toHaveLength(2);
    // The token was fine: it is not renewed.
    expect(renewals).not.toHaveBeenCalled();
  });

  it("keeps the long delay while it is refused, and is live once accepted", () => {
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      FakeSocket.made.at(-1)?.openThenClose(TOO_MANY_CLOSE, "too many live sockets: at most 500 on this server");
      vi.advanceTimersByTime(REFUSED_DELAY_MS);
      expect(FakeSocket.made).toHaveLength(attempt + 1);
    }
    expect(statuses).toEqual(["refused"]);
    FakeSocket.made.at(-1)?.signIn();
    expect(live.getStatus()).toBe("connected");
    expect(live.getRefusal()).toBeNull();
  });
});

describe("LiveSocket following logs", () => {
  let live: LiveSocket;
  let batches: { lines: unknown; start: boolean }[];

  beforeEach(() => {
    stubBrowser();
    live = new LiveSocket({ token: () => "token", url: "ws://control-plane.test/api/v1/ws" });
    batches = [];
    live.onMessage((message) => {
      if (message.topic !== "logs") return;
      batches.push({ lines: (message.data as { lines: unknown }).lines, start: message.followStart === true });
    });
    live.start();
  });

  afterEach(() => {
    live.stop();
    unstubBrowser();
  });

  const push = (socket: FakeSocket | undefined, lines: string[]) =>
    socket?.onmessage?.({ data: JSON.stringify({ topic: "logs", data: { name: "p1_UZ_ucell", lines } }) });

  it("marks the first batch of a follow, and of the follow asked again after a reconnect", async () => {
    const first = FakeSocket.made[0];
    first?.signIn();
    live.followLogs("p1_UZ_ucell");
    push(first, ["a", "b"]);
    push(first, ["c"]);
    if (first) first.readyState = 3;
    first?.onclose?.({ code: 1006, reason: "" });
    await vi.advanceTimersByTimeAsync(1000);
    const second = FakeSocket.made[1];
    second?.signIn();
    expect(second?.sent).toContain(JSON.stringify({ follow_logs: "p1_UZ_ucell" }));
    push(second, ["b", "c", "d"]);
    push(second, ["e"]);
    expect(batches.map((batch) => batch.start)).toEqual([true, false, true, false]);
  });
});
