import { SESSION_STATES } from "../../api/types";
import { CountryFilter, FilterSelect, type CountryOption } from "../../components/FilterSelect";
import type { SessionFilters } from "./grouping";

interface ProgramsToolbarProps {
  filters: SessionFilters;
  countries: readonly CountryOption[];
  programs: readonly string[];
  /** The hosts the sessions are on; the host filter shows only when there are several. */
  hosts: readonly string[];
  onChange: (filters: SessionFilters) => void;
}

export function ProgramsToolbar({ filters, countries, programs, hosts, onChange }: ProgramsToolbarProps) {
  return (
    <div className="toolbar toolbar--sessions" role="search">
      <CountryFilter countries={countries} value={filters.country} onChange={(country) => onChange({ ...filters, country })} />
      <FilterSelect
        name="program"
        allLabel="All programs"
        options={programs}
        value={filters.program}
        onChange={(program) => onChange({ ...filters, program })}
      />
      <FilterSelect
        name="state"
        allLabel="All states"
        options={SESSION_STATES}
        value={filters.state}
        onChange={(state) => onChange({ ...filters, state })}
      />
      {(hosts.length > 1 || filters.host !== "") && (
        <FilterSelect
          name="host"
          allLabel="All hosts"
          options={hosts}
          value={filters.host}
          onChange={(host) => onChange({ ...filters, host })}
        />
      )}
    </div>
  );
}
