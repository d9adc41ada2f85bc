import { useEffect, useState } from "react";

function secondsUntil(until: number | null): number {
  return until === null ? 0 : Math.max(0, Math.ceil((until - Date.now()) / 1000));
}

/** Seconds left until `until` (a Date.now() timestamp), updated as time passes. */
export function useCountdown(until: number | null): number {
  const [countdown, setCountdown] = useState(() => ({ until, seconds: secondsUntil(until) }));
  // A new deadline shows at once, not a tick later.
  if (countdown.until !== until) setCountdown({ until, seconds: secondsUntil(until) });
  useEffect(() => {
    if (until === null) return undefined;
    const timer = window.setInterval(() => {
      const seconds = secondsUntil(until);
      setCountdown({ until, seconds });
      if (seconds === 0) window.clearInterval(timer);
    }, 250);
    return () => window.clearInterval(timer);
  }, [until]);
  return countdown.seconds;
}
