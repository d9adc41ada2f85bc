interface FilterSelectProps<V extends string> {
  /** What is filtered: `state` gives "Filter by state" and the test id `filter-state`. */
  name: string;
  /** The first option, which filters nothing: "All states". */
  allLabel: string;
  options: readonly V[];
  /** The text of an option; the value itself by default. */
  optionLabel?: (value: V) => string;
  /** The value, or "" for all. */
  value: V | "";
  onChange: (value: V | "") => void;
  testId?: string;
}

/** A toolbar select that narrows a list to one value, or shows all of it. */
export function FilterSelect<V extends string>({
  name,
  allLabel,
  options,
  optionLabel = (option) => option,
  value,
  onChange,
  testId = `filter-${name}`,
}: FilterSelectProps<V>) {
  return (
    <select
      className="input"
      aria-label={`Filter by ${name}`}
      value={value}
      // Only the options below can be chosen: "" or one of `options`.
      onChange={(event) => onChange(event.target.value as V | "")}
      data-testid={testId}
    >
      <option value="">{allLabel}</option>
      {options.map((option) => (
        <option key={option} value={option}>
          {optionLabel(option)}
        </option>
      ))}
    </select>
  );
}

export interface CountryOption {
  code: string;
  name: string;
}

/** The country filter of a toolbar: "Uzbekistan (UZ)", by code. */
export function CountryFilter({
  countries,
  value,
  onChange,
}: {
  countries: readonly CountryOption[];
  value: string;
  onChange: (code: string) => void;
}) {
  const names = new Map(countries.map((country) => [country.code, country.name]));
  return (
    <FilterSelect
      name="country"
      allLabel="All countries"
      options={countries.map((country) => country.code)}
      optionLabel={(code) => `${names.get(code) ?? code} (${code})`}
      value={value}
      onChange={onChange}
    />
  );
}
