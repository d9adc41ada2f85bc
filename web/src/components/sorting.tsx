import { useCallback, useMemo, useRef, useState } from "react";

export type SortDirection = "asc" | "desc";
export type SortValue = string | number | null | undefined;

export interface SortState<K extends string> {
  key: K;
  direction: SortDirection;
}

export interface Sorting<T, K extends string> {
  rows: T[];
  sort: SortState<K> | null;
  /** The first click sorts by `key` (numbers largest first), the next reverses, the third restores the default order. */
  toggle: (key: K) => void;
}

function compare(a: SortValue, b: SortValue): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
}

/**
 * Rows sorted by the clicked column. `columns` reads each sortable column's
 * value from a row; empty values always go last; ties keep the given order.
 */
export function useSort<T, K extends string>(
  rows: readonly T[],
  columns: Record<K, (row: T) => SortValue>,
  numeric: ReadonlySet<K> = new Set(),
): Sorting<T, K> {
  const [sort, setSort] = useState<SortState<K> | null>(null);
  // Read when the sort or the rows change: callers may pass a fresh object each render.
  const columnsRef = useRef(columns);
  columnsRef.current = columns;
  const toggle = useCallback(
    (key: K) =>
      setSort((current) => {
        const first: SortDirection = numeric.has(key) ? "desc" : "asc";
        if (current?.key !== key) return { key, direction: first };
        if (current.direction === first) return { key, direction: first === "asc" ? "desc" : "asc" };
        return null;
      }),
    [numeric],
  );
  const sorted = useMemo(() => {
    if (!sort) return [...rows];
    const read = columnsRef.current[sort.key];
    const sign = sort.direction === "asc" ? 1 : -1;
    return rows
      .map((row, index) => ({ row, index, value: read(row) }))
      .sort((a, b) => {
        const aEmpty = a.value === null || a.value === undefined;
        const bEmpty = b.value === null || b.value === undefined;
        if (aEmpty || bEmpty) return aEmpty === bEmpty ? a.index - b.index : aEmpty ? 1 : -1;
        return sign * compare(a.value, b.value) || a.index - b.index;
      })
      .map(({ row }) => row);
  }, [rows, sort]);
  return { rows: sorted, sort, toggle };
}

interface SortHeaderProps<K extends string> {
  label: string;
  column: K;
  sort: SortState<K> | null;
  onSort: (key: K) => void;
  className?: string;
}

/** A column header that sorts its table; says its order to assistive technology with aria-sort. */
export function SortHeader<K extends string>({ label, column, sort, onSort, className }: SortHeaderProps<K>) {
  const active = sort?.key === column;
  const direction = active ? sort.direction : null;
  return (
    <th
      scope="col"
      className={className}
      aria-sort={direction === "asc" ? "ascending" : direction === "desc" ? "descending" : "none"}
      data-testid={`sort-${column}`}
    >
      <button
        type="button"
        className={active ? "sort-button sort-button--active" : "sort-button"}
        onClick={() => onSort(column)}
        title={`Sort by ${label.toLowerCase()}`}
      >
        {label}
        <span className="sort-button__arrow" aria-hidden="true">
          {direction === "asc" ? "▲" : direction === "desc" ? "▼" : "↕"}
        </span>
      </button>
    </th>
  );
}

export interface SortColumn<K extends string> {
  column: K;
  label: string;
}

/** A sortable header cell per column, in order. */
export function SortHeaders<K extends string>({
  columns,
  sort,
  onSort,
}: {
  columns: ReadonlyArray<SortColumn<K>>;
  sort: SortState<K> | null;
  onSort: (key: K) => void;
}) {
  return (
    <>
      {columns.map(({ column, label }) => (
        <SortHeader key={column} label={label} column={column} sort={sort} onSort={onSort} />
      ))}
    </>
  );
}
