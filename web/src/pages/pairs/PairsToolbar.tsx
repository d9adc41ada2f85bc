import { PAIR_STATES } from "../../api/types";
import { CountryFilter, FilterSelect, type CountryOption } from "../../components/FilterSelect";
import type { PairFilters } from "./filters";

interface PairsToolbarProps {
  filters: PairFilters;
  countries: readonly CountryOption[];
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
      <CountryFilter countries={countries} value={filters.country} onChange={(country) => onChange({ ...filters, country })} />
      <FilterSelect
        name="state"
        allLabel="All states"
        options={PAIR_STATES}
        value={filters.state}
        onChange={(state) => onChange({ ...filters, state })}
      />
    </div>
  );
}
