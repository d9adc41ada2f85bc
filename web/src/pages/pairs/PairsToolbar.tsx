import { PAIR_STATES, type PairState } from "../../api/types";
import type { PairFilters } from "./filters";

interface PairsToolbarProps {
  filters: PairFilters;
  countries: ReadonlyArray<{ code: string; name: string }>;
  onChange: (filters: PairFilters) => void;
}

export function PairsToolbar({ filters, countries, onChange }: PairsToolbarProps) {
  return (
    <div className="toolbar" role="search">
      <input
        type="search"
        className="input toolbar__search"
        placeholder="Search key, operator, country or region"
        aria-label="Search pairs"
        value={filters.q}
        onChange={(event) => onChange({ ...filters, q: event.target.value })}
        data-testid="pairs-search"
      />
      <select
        className="input"
        aria-label="Filter by country"
        value={filters.country}
        onChange={(event) => onChange({ ...filters, country: event.target.value })}
        data-testid="filter-country"
      >
        <option value="">All countries</option>
        {countries.map((country) => (
          <option key={country.code} value={country.code}>
            {country.name} ({country.code})
          </option>
        ))}
      </select>
      <select
        className="input"
        aria-label="Filter by state"
        value={filters.state}
        onChange={(event) => onChange({ ...filters, state: event.target.value as PairState | "" })}
        data-testid="filter-state"
      >
        <option value="">All states</option>
        {PAIR_STATES.map((state) => (
          <option key={state} value={state}>
            {state}
          </option>
        ))}
      </select>
    </div>
  );
}
