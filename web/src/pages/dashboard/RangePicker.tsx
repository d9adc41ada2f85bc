import { RANGES, type RangeOption } from "./ranges";

interface RangePickerProps {
  value: RangeOption;
  onChange: (range: RangeOption) => void;
}

export function RangePicker({ value, onChange }: RangePickerProps) {
  return (
    <div className="segmented" role="radiogroup" aria-label="Time range" data-testid="range-picker">
      {RANGES.map((range) => {
        const on = range.value === value.value;
        return (
          <button
            key={range.value}
            type="button"
            role="radio"
            aria-checked={on}
            className={on ? "segmented__item segmented__item--on" : "segmented__item"}
            onClick={() => onChange(range)}
            data-testid={`range-${range.value}`}
          >
            {range.label}
          </button>
        );
      })}
    </div>
  );
}
