// The ordering rules of sortable tables, apart from React so they can be tested alone.

export type SortDirection = "asc" | "desc";
export type SortValue = string | number | null | undefined;

export interface SortState<K extends string> {
  key: K;
  direction: SortDirection;
}

function compare(a: SortValue, b: SortValue): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
}

/** The sort after a click on `key`: first order (numbers largest first), then reversed, then none. */
export function nextSort<K extends string>(current: SortState<K> | null, key: K, numeric: boolean): SortState<K> | null {
  const first: SortDirection = numeric ? "desc" : "asc";
  if (current?.key !== key) return { key, direction: first };
  if (current.direction === first) return { key, direction: first === "asc" ? "desc" : "asc" };
  return null;
}

/** `rows` ordered by `read` in `direction`; empty values always go last; ties keep the given order. */
export function sortRows<T>(rows: readonly T[], read: (row: T) => SortValue, direction: SortDirection): T[] {
  const sign = direction === "asc" ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, value: read(row) }))
    .sort((a, b) => {
      const aEmpty = a.value === null || a.value === undefined;
      const bEmpty = b.value === null || b.value === undefined;
      if (aEmpty || bEmpty) return aEmpty === bEmpty ? a.index - b.index : aEmpty ? 1 : -1;
      return sign * compare(a.value, b.value) || a.index - b.index;
    })
    .map(({ row }) => row);
}
