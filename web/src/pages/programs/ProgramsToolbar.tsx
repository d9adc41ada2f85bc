import { SESSION_STATES, type SessionState } from "../../api/types";
import type { SessionFilters } from "./grouping";

interface ProgramsToolbarProps {
  filters: SessionFilters;
  countries: ReadonlyArray<{ code: string; name: string }>;
  programs: readonly string[];
  /** The hosts the sessions are on; the host filter shows only when there are several. */
  hosts: readonly string[];
  onChange: (filters: SessionFilters) => void;
}

export function ProgramsToolbar({ filters, countries, programs, hosts, onChange }: ProgramsToolbarProps) {
  return (
    <div className="toolbar toolbar--sessions" role="search">
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
      <NameFilter
        label="program"
        names={programs}
        value={filters.program}
        onChange={(program) => onChange({ ...filters, program })}
      />
      <NameFilter
        label="state"
        names={SESSION_STATES}
        value={filters.state}
        onChange={(state) => onChange({ ...filters, state: state as SessionState | "" })}
      />
      {(hosts.length > 1 || filters.host !== "") && (
        <NameFilter label="host" names={hosts} value={filters.host} onChange={(host) => onChange({ ...filters, host })} />
      )}
    </div>
  );
}

interface NameFilterProps {
  label: string;
  names: readonly string[];
  value: string;
  onChange: (value: string) => void;
}

/** A select over plain names, with "All <label>s" first. */
function NameFilter({ label, names, value, onChange }: NameFilterProps) {
  return (
    <select
      className="input"
      aria-label={`Filter by ${label}`}
      value={value}
      onChange={(event) => onChange(event.target.value)}
      data-testid={`filter-${label}`}
    >
      <option value="">All {label}s</option>
      {names.map((name) => (
        <option key={name} value={name}>
          {name}
        </option>
      ))}
    </select>
  );
}
