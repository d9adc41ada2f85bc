import { createContext, useContext, useEffect, useEffectEvent, useRef, useState, useSyncExternalStore, type ReactNode } from "react";
import { fetchCurrentUser } from "../api/endpoints";
import { getAccessToken } from "../api/tokens";
import { LiveSocket, type LiveMessage, type LiveStatus } from "./socket";

const LiveContext = createContext<LiveSocket | null>(null);

/** Holds the live connection while the signed-in app shell is mounted. */
export function LiveProvider({ children }: { children: ReactNode }) {
  const [socket] = useState(
    () =>
      new LiveSocket({
        token: getAccessToken,
        // A cheap authenticated call: the API client refreshes an expired
        // token, or ends the session when the refresh token is gone too.
        beforeRetry: async () => {
          await fetchCurrentUser();
        },
      }),
  );
  useEffect(() => {
    socket.start();
    return () => socket.stop();
  }, [socket]);
  return <LiveContext.Provider value={socket}>{children}</LiveContext.Provider>;
}

function useLiveSocket(): LiveSocket {
  const socket = useContext(LiveContext);
  if (!socket) throw new Error("live hooks must be used inside <LiveProvider>");
  return socket;
}

export function useLiveStatus(): LiveStatus {
  const socket = useLiveSocket();
  return useSyncExternalStore(
    (notify) => socket.onStatus(notify),
    () => socket.getStatus(),
  );
}

/** Why the server refused the live socket (too many open), while its status is "refused". */
export function useLiveRefusal(): string | null {
  const socket = useLiveSocket();
  return useSyncExternalStore(
    (notify) => socket.onStatus(notify),
    () => socket.getRefusal(),
  );
}

/** Calls `handler` with the data of every message of `topic`; the latest handler is always used. */
export function useLiveTopic(topic: string, handler: (data: unknown) => void): void {
  const socket = useLiveSocket();
  const onData = useEffectEvent(handler);
  useEffect(
    () =>
      socket.onMessage((message: LiveMessage) => {
        if (message.topic === topic) onData(message.data);
      }),
    [socket, topic],
  );
}

/**
 * Calls `onConnected` each time the connection is made while the caller is mounted: at
 * first (what changed while the page loaded and the socket signed in was not heard)
 * and after a drop (events may have been missed).
 */
export function useOnConnected(onConnected: () => void): void {
  const status = useLiveStatus();
  const previous = useRef(status);
  const connected = useEffectEvent(onConnected);
  useEffect(() => {
    if (status === "connected" && previous.current !== "connected") connected();
    previous.current = status;
  }, [status]);
}

/**
 * Follows a session's log while `name` is set; `onLines` receives each batch of new lines,
 * and `start` for the first batch of a follow (at first and after a reconnect), which
 * begins with the log's last lines again.
 */
export function useFollowLogs(name: string | null, onLines: (lines: string[], start: boolean) => void): void {
  const socket = useLiveSocket();
  const receive = useEffectEvent(onLines);
  useEffect(() => {
    if (name === null) return undefined;
    const stopListening = socket.onMessage((message) => {
      if (message.topic !== "logs") return;
      const data = message.data as { name?: unknown; lines?: unknown } | null;
      if (data?.name !== name || !Array.isArray(data.lines)) return;
      receive(
        data.lines.filter((line): line is string => typeof line === "string"),
        message.followStart === true,
      );
    });
    const unfollow = socket.followLogs(name);
    return () => {
      unfollow();
      stopListening();
    };
  }, [socket, name]);
}
