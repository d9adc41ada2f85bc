import { useSyncExternalStore } from "react";

// One shared one-second interval for every ticking value on screen, running
// only while something listens.
const listeners = new Set<() => void>();
let timer: number | undefined;
let now = Date.now();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (timer === undefined) {
    now = Date.now();
    timer = window.setInterval(() => {
      now = Date.now();
      for (const notify of listeners) notify();
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer !== undefined) {
      window.clearInterval(timer);
      timer = undefined;
    }
  };
}

/** Date.now(), updated every second. */
export function useNow(): number {
  return useSyncExternalStore(subscribe, () => now);
}
