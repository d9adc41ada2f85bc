import type { Pair, PairState } from "../../api/types";

export interface PairFilters {
  q: string;
  country: string;
  state: PairState | "";
}

// The whole fleet is a few hundred pairs at most, so the page loads them once
// and filters in the browser: typing stays instant and the country filter can
// list exactly the countries that have pairs.
export function matchesFilters(pair: Pair, filters: PairFilters): boolean {
  if (filters.country && pair.country !== filters.country) return false;
  if (filters.state && pair.state !== filters.state) return false;
  const needle = filters.q.trim().toLowerCase();
  if (!needle) return true;
  return [pair.key, pair.operator, pair.country, pair.country_name, pair.region ?? ""].some((text) =>
    text.toLowerCase().includes(needle),
  );
}

export function byKey(a: Pair, b: Pair): number {
  return a.key.localeCompare(b.key);
}
