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

describe("LiveSocket refused for too many open sockets", () => {
  let live: LiveSocket;
  let statuses: LiveStatus[];
  const renewals = vi.fn(() => Promise.resolve());

  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.made = [];
    vi.stubGlobal("WebSocket", FakeSocket);
    vi.stubGlobal("window", {
      location: { protocol: "http:", host: "control-plane.test" },
      setTimeout: (run: () => void, ms: number) => setTimeout(run, ms),
      clearTimeout: (id: number) => clearTimeout(id),
    });
    renewals.mockClear();
    live = new LiveSocket({ token: () => "token", beforeRetry: renewals, url: "ws://control-plane.test/api/v1/ws" });
    statuses = [];
    live.onStatus((status) => statuses.push(status));
    live.start();
  });

  afterEach(() => {
    live.stop();
    vi.useRealTimers();
    vi.unstubAllGlobals();
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
