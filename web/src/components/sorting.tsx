import { useCallback, useMemo, useState } from "react";
import { nextSort, sortRows, type SortState, type SortValue } from "./sortOrder";

export type { SortValue } from "./sortOrder";

const NO_NUMERIC: ReadonlySet<never> = new Set();

export interface Sorting<T, K extends string> {
  rows: T[];
  sort: SortState<K> | null;
  /** The first click sorts by `key` (numbers largest first), the next reverses, the third restores the default order. */
  toggle: (key: K) => void;
}

/**
 * Rows sorted by the clicked column. `columns` reads each sortable column's
 * value from a row; empty values always go last; ties keep the given order.
 * Pass `columns` and `numeric` as constants: a new object re-sorts the rows.
 */
export function useSort<T, K extends string>(
  rows: readonly T[],
  columns: Record<K, (row: T) => SortValue>,
  numeric: ReadonlySet<K> = NO_NUMERIC,
): Sorting<T, K> {
  const [sort, setSort] = useState<SortState<K> | null>(null);
  const toggle = useCallback((key: K) => setSort((current) => nextSort(current, key, numeric.has(key))), [numeric]);
  const sorted = useMemo(
    () => (sort ? sortRows(rows, columns[sort.key], sort.direction) : [...rows]),
    [rows, columns, sort],
  );
  return { rows: sorted, sort, toggle };
}

interface SortHeaderProps<K extends string> {
  label: string;
  column: K;
  sort: SortState<K> | null;
  onSort: (key: K) => void;
  className?: string;
  /** What the column counts, when its label alone could mislead: shown on hover. */
  hint?: string;
}

/** A column header that sorts its table; says its order to assistive technology with aria-sort. */
export function SortHeader<K extends string>({ label, column, sort, onSort, className, hint }: SortHeaderProps<K>) {
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
        title={hint ? `${hint} Click to sort by ${label.toLowerCase()}.` : `Sort by ${label.toLowerCase()}`}
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
  /** On the column's header cell. */
  className?: string;
  /** What the column counts, when its label alone could mislead: shown on hover. */
  hint?: string;
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
      {columns.map(({ column, label, className, hint }) => (
        <SortHeader key={column} label={label} column={column} sort={sort} onSort={onSort} className={className} hint={hint} />
      ))}
    </>
  );
}
