// Every pair, kept current by the `pairs` topic of the live connection: a pair written
// anywhere (another page, another operator, the policy) shows on every open page.
import { useLiveQuery, type LiveQuery } from "./live";
import { pairsQuery } from "./queries";
import type { Pair } from "../api/types";

const PAIRS_LIVE = { topic: "pairs", delayMs: 300, quietMs: 300_000, pollMs: 15_000 } satisfies LiveQuery<Pair[]>;

export function usePairs() {
  return useLiveQuery(pairsQuery(), PAIRS_LIVE);
}
