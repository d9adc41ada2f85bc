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
      <select
        className="input"
        aria-label="Filter by program"
        value={filters.program}
        onChange={(event) => onChange({ ...filters, program: event.target.value })}
        data-testid="filter-program"
      >
        <option value="">All programs</option>
        {programs.map((program) => (
          <option key={program} value={program}>
            {program}
          </option>
        ))}
      </select>
      <select
        className="input"
        aria-label="Filter by state"
        value={filters.state}
        onChange={(event) => onChange({ ...filters, state: event.target.value as SessionState | "" })}
        data-testid="filter-state"
      >
        <option value="">All states</option>
        {SESSION_STATES.map((state) => (
          <option key={state} value={state}>
            {state}
          </option>
        ))}
      </select>
      {(hosts.length > 1 || filters.host !== "") && (
        <select
          className="input"
          aria-label="Filter by host"
          value={filters.host}
          onChange={(event) => onChange({ ...filters, host: event.target.value })}
          data-testid="filter-host"
        >
          <option value="">All hosts</option>
          {hosts.map((host) => (
            <option key={host} value={host}>
              {host}
            </option>
          ))}
        </select>
      )}
    </div>
  );
}
