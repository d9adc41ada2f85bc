// One WebSocket to `/api/v1/ws` per signed-in tab. Its first message carries the
// access token, `{"type": "auth", "token"}` (never the URL: URLs end up in logs).
// The server pushes `{"topic", "data"}` messages; the client asks for a session's
// log with `{"follow_logs": name}`. When the socket drops it reconnects with capped,
// jittered backoff and asks again for every log still followed. When the server has
// too many sockets open (4429: this user's, or everyone's) the socket is "refused":
// it says why and tries again only after REFUSED_DELAY_MS.

export type LiveStatus = "connecting" | "connected" | "reconnecting" | "refused";

export interface LiveMessage {
  topic: string;
  data: unknown;
  /**
   * A `logs` batch that is the first since the log was (again) followed: it starts with
   * the log's last lines, some of which the reader may already show.
   */
  followStart?: boolean;
}

type MessageListener = (message: LiveMessage) => void;
type StatusListener = (status: LiveStatus) => void;

export interface LiveSocketOptions {
  /** The access token to send first, read anew on every attempt. */
  token: () => string | null;
  /**
   * Called before the next attempt when the last one was refused for its token
   * or failed before the socket opened: a chance to renew the access token.
   */
  beforeRetry?: () => Promise<void>;
  url?: string;
}

/** The server's first message once the token is accepted. */
const AUTH_TOPIC = "auth";
/** The server's close code for an expired, invalid or revoked token. */
const UNAUTHORIZED_CLOSE = 4401;
/** The server's close code for a socket over its caps of open sockets; the reason names the cap. */
export const TOO_MANY_CLOSE = 4429;
/** What to do about a refused live connection: close other tabs when too many sockets are
 * open; nothing when this tab sent more commands than the socket takes (opening and closing
 * logs faster than a person does). */
export function refusedAdvice(refusal: string | null): string {
  return refusal?.startsWith("too many commands")
    ? "It sent commands faster than the control plane takes them on one connection."
    : "Close other dashboard tabs you no longer use.";
}

/** A refused socket tries again after 15 to 30 s: other tabs may have closed by then. */
export const REFUSED_DELAY_MS = 30_000;
const INITIAL_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;
/** A connection that stayed up this long resets the backoff. */
const STABLE_MS = 5_000;

export function liveUrl(): string {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/api/v1/ws`;
}

function parseMessage(raw: unknown): LiveMessage | null {
  if (typeof raw !== "string") return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== "object" || value === null) return null;
    const topic = (value as { topic?: unknown }).topic;
    if (typeof topic !== "string") return null;
    return { topic, data: (value as { data?: unknown }).data };
  } catch {
    return null;
  }
}

export class LiveSocket {
  private socket: WebSocket | null = null;
  private status: LiveStatus = "connecting";
  private attempt = 0;
  private retryTimer: number | undefined;
  private openedAt = 0;
  private closed = false;
  private refusal: string | null = null;
  private readonly follows = new Map<string, number>();
  /** Logs asked for on this connection whose first batch has not come yet. */
  private readonly starting = new Set<string>();
  private readonly messageListeners = new Set<MessageListener>();
  private readonly statusListeners = new Set<StatusListener>();

  constructor(private readonly options: LiveSocketOptions) {}

  start(): void {
    this.closed = false;
    this.connect();
  }

  stop(): void {
    this.closed = true;
    window.clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, "client closed");
  }

  getStatus(): LiveStatus {
    return this.status;
  }

  /** While refused: the server's reason (which cap, and its value). */
  getRefusal(): string | null {
    return this.refusal;
  }

  onMessage(listener: MessageListener): () => void {
    this.messageListeners.add(listener);
    return () => this.messageListeners.delete(listener);
  }

  onStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Follows a session's log until the returned function is called; counted per name. */
  followLogs(name: string): () => void {
    const count = this.follows.get(name) ?? 0;
    this.follows.set(name, count + 1);
    if (count === 0) this.askFollow(name);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.follows.get(name) ?? 1) - 1;
      if (left > 0) {
        this.follows.set(name, left);
      } else {
        this.follows.delete(name);
        this.starting.delete(name);
        this.send({ unfollow_logs: name });
      }
    };
  }

  private askFollow(name: string): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.starting.add(name);
    this.socket.send(JSON.stringify({ follow_logs: name }));
  }

  /** The first `logs` batch of a follow is marked: it may repeat lines already shown. */
  private marked(message: LiveMessage): LiveMessage {
    if (message.topic !== "logs") return message;
    const name = (message.data as { name?: unknown } | null)?.name;
    if (typeof name !== "string" || !this.starting.delete(name)) return message;
    return { ...message, followStart: true };
  }

  private send(payload: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(payload));
  }

  private setStatus(status: LiveStatus): void {
    if (status === this.status) return;
    this.status = status;
    for (const listener of this.statusListeners) listener(status);
  }

  private connect(): void {
    if (this.closed) return;
    const token = this.options.token();
    if (!token) {
      this.scheduleRetry(false, true);
      return;
    }
    const url = this.options.url ?? liveUrl();
    let opened = false;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url);
    } catch {
      this.scheduleRetry(false, false);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      opened = true;
      if (this.socket !== socket) return;
      socket.send(JSON.stringify({ type: "auth", token }));
      this.openedAt = Date.now();
      this.starting.clear();
      for (const name of this.follows.keys()) this.askFollow(name);
    };
    socket.onmessage = (event: MessageEvent) => {
      const message = parseMessage(event.data);
      if (!message) return;
      // The server's answer to the token: signed in, events flow from now on.
      if (message.topic === AUTH_TOPIC) {
        if (this.socket === socket) {
          this.refusal = null;
          this.setStatus("connected");
        }
        return;
      }
      const delivered = this.marked(message);
      for (const listener of this.messageListeners) listener(delivered);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (event.code === TOO_MANY_CLOSE) {
        this.refuse(event.reason || "too many live sockets are open");
        return;
      }
      this.scheduleRetry(opened, !opened || event.code === UNAUTHORIZED_CLOSE);
    };
  }

  /** Over the server's caps: no quick retries, which would only be refused too. */
  private refuse(reason: string): void {
    if (this.closed) return;
    const changed = reason !== this.refusal;
    this.refusal = reason;
    if (this.status !== "refused") this.setStatus("refused");
    else if (changed) for (const listener of this.statusListeners) listener(this.status);
    const delay = REFUSED_DELAY_MS / 2 + Math.random() * (REFUSED_DELAY_MS / 2);
    this.retryTimer = window.setTimeout(() => this.connect(), delay);
  }

  private scheduleRetry(wasOpen: boolean, renewToken: boolean): void {
    if (this.closed) return;
    this.setStatus("reconnecting");
    if (wasOpen && Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0;
    const ceiling = Math.min(MAX_DELAY_MS, INITIAL_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.retryTimer = window.setTimeout(() => {
      const renew = renewToken && this.options.beforeRetry ? this.options.beforeRetry() : Promise.resolve();
      renew.catch(() => undefined).finally(() => this.connect());
    }, delay);
  }
}
