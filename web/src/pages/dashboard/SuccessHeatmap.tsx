import type { MetricsHeatmap } from "../../api/types";
import { ZONE_LABEL, formatHour } from "../../format/time";
import { formatCount, formatPercent, successTone } from "./format";

const HOUR_MS = 3_600_000;

interface Cell {
  completed: number;
  delivered: number;
  rate: number | null;
}

interface Grid {
  hours: number[];
  countries: string[];
  cells: Map<string, Cell>;
}

const cellKey = (country: string, hour: number) => `${country}@${hour}`;

/** One column per hour the heatmap covers and one row per country. */
export function heatmapGrid(heatmap: MetricsHeatmap): Grid {
  const hours = heatmap.hours.map((hour) => toHour(Date.parse(hour))).filter((hour) => !Number.isNaN(hour));
  const cells = new Map<string, Cell>();
  const countries = new Set<string>();
  for (const row of heatmap.rows) {
    let seen = false;
    for (const cell of row.cells) {
      const hour = toHour(Date.parse(cell.t));
      if (Number.isNaN(hour) || cell.completed === 0) continue;
      seen = true;
      cells.set(cellKey(row.country, hour), { completed: cell.completed, delivered: cell.delivered, rate: cell.success_rate });
    }
    if (seen) countries.add(row.country);
  }
  return { hours, countries: [...countries].sort(), cells };
}

function toHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

export function SuccessHeatmap({ heatmap }: { heatmap: MetricsHeatmap }) {
  const grid = heatmapGrid(heatmap);
  if (grid.countries.length === 0) {
    return (
      <p className="empty-state" data-testid="heatmap-empty">
        No attempts in the last 24 hours.
      </p>
    );
  }
  return (
    <div className="heatmap" data-testid="heatmap" style={{ gridTemplateColumns: `48px repeat(${grid.hours.length}, minmax(14px, 1fr))` }}>
      {/* The hours' row says its zone once, in its corner. */}
      <span className="heatmap__hour" data-testid="heatmap-zone">
        {ZONE_LABEL}
      </span>
      {grid.hours.map((hour, index) => (
        <span key={hour} className="heatmap__hour">
          {index % 3 === 0 ? formatHour(hour) : ""}
        </span>
      ))}
      {grid.countries.map((country) => (
        <HeatmapRow key={country} country={country} grid={grid} />
      ))}
      <div className="heatmap__legend">
        <span className="heatmap__swatch heatmap__cell--good" /> ≥ 90%
        <span className="heatmap__swatch heatmap__cell--fair" /> 70–90%
        <span className="heatmap__swatch heatmap__cell--poor" /> &lt; 70%
        <span className="heatmap__swatch heatmap__cell--none" /> no attempts
      </div>
    </div>
  );
}

function HeatmapRow({ country, grid }: { country: string; grid: Grid }) {
  return (
    <>
      <span className="heatmap__country">{country}</span>
      {grid.hours.map((hour) => {
        const cell = grid.cells.get(cellKey(country, hour));
        const tone = cell && cell.completed > 0 ? successTone(cell.rate) : "none";
        const title = cell
          ? `${country} ${formatHour(hour)}:00 ${ZONE_LABEL} — ${formatPercent(cell.rate)} of ${formatCount(cell.completed)}`
          : `${country} ${formatHour(hour)}:00 ${ZONE_LABEL} — no attempts`;
        return (
          <span
            key={hour}
            className={`heatmap__cell heatmap__cell--${tone}`}
            title={title}
            data-testid={`heatmap-cell-${country}-${new Date(hour).toISOString().slice(0, 13)}`}
            data-rate={cell?.rate ?? ""}
          />
        );
      })}
    </>
  );
}
