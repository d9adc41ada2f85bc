import {
  Bar,
  type BarShapeProps,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Scatter,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { ReactNode } from "react";
import type { DotItemDotProps } from "recharts/types/util/types";
import type { CountryGoal, MetricsSeries } from "../../api/types";
import { formatMinute } from "../../format/time";
import { formatRate } from "./format";

const PALETTE = ["#2563eb", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];

export function colorFor(index: number): string {
  return PALETTE[index % PALETTE.length] ?? "#2563eb";
}

type Row = Record<string, number | null>;

/** One row per time step with one column per series: what a line chart draws. */
export function pivot(series: readonly MetricsSeries[], value: (point: MetricsSeries["points"][number]) => number | null): Row[] {
  const rows = new Map<number, Row>();
  for (const line of series) {
    for (const point of line.points) {
      const t = Date.parse(point.t);
      if (Number.isNaN(t)) continue;
      const row = rows.get(t) ?? { t };
      row[line.key] = value(point);
      rows.set(t, row);
    }
  }
  return [...rows.values()].sort((a, b) => (a.t ?? 0) - (b.t ?? 0));
}

const percentTick = (value: number) => `${value}%`;

function valued(row: Row | undefined, key: string): boolean {
  return row !== undefined && row[key] !== null && row[key] !== undefined;
}

/** For each row, whether its value of `key` stands alone: no value in the rows either side.
 * A line breaks where a step has no value (nothing completed then), so such a value
 * would draw nothing without a dot. */
export function lonePoints(rows: readonly Row[], key: string): boolean[] {
  return rows.map((row, index) => valued(row, key) && !valued(rows[index - 1], key) && !valued(rows[index + 1], key));
}

/** A line's dots: only where a value stands alone. */
function loneDots(rows: readonly Row[], key: string, color: string): (props: DotItemDotProps) => ReactNode {
  const lone = lonePoints(rows, key);
  return function LoneDot({ cx, cy, index }: DotItemDotProps) {
    if (!lone[index] || cx === undefined || cy === undefined) return <g key={index} />;
    return <circle key={index} cx={cx} cy={cy} r={3} fill={color} data-testid={`lone-${key}`} />;
  };
}

interface TrendProps {
  series: readonly MetricsSeries[];
  withDay: boolean;
}

/** Success rate per country over time, one line each. */
export function SuccessTrendChart({ series, withDay }: TrendProps) {
  const keys = series.map((line) => line.key).sort();
  const rows = pivot(series, (point) => (point.success_rate === null ? null : Math.round(point.success_rate * 1000) / 10));
  return (
    <ResponsiveContainer width="100%" height={260}>
      <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#eef0f4" vertical={false} />
        <XAxis
          dataKey="t"
          type="number"
          scale="time"
          domain={["dataMin", "dataMax"]}
          tickFormatter={(value: number) => formatMinute(value, withDay)}
          fontSize={12}
        />
        <YAxis domain={[0, 100]} tickFormatter={percentTick} fontSize={12} width={44} />
        <Tooltip
          labelFormatter={(value) => formatMinute(Number(value), true)}
          formatter={(value) => (typeof value === "number" ? `${value.toFixed(1)}%` : "—")}
        />
        <Legend />
        {keys.map((key, index) => (
          <Line
            key={key}
            dataKey={key}
            name={key}
            stroke={colorFor(index)}
            strokeWidth={2}
            dot={loneDots(rows, key, colorFor(index))}
            isAnimationActive={false}
          />
        ))}
      </LineChart>
    </ResponsiveContainer>
  );
}

interface CapRow {
  country: string;
  achieved: number;
  cap: number;
}

/** A country's granted sends per minute: a bar named for the country (tests and screen readers read it). */
function GrantedBar({ x, y, width, height, payload }: BarShapeProps) {
  const row = payload as CapRow;
  return (
    <rect
      x={x}
      y={y}
      width={width}
      height={height}
      fill="#60a5fa"
      role="img"
      aria-label={`${row.country}: ${formatRate(row.achieved)} granted per minute`}
      data-testid={`cap-bar-${row.country}`}
    />
  );
}

interface CapShapeProps {
  cx?: number;
  cy?: number;
  payload?: CapRow;
}

/** The cap of a country: a short dark bar across its column. */
function CapMarker({ cx, cy, payload }: CapShapeProps) {
  if (cx === undefined || cy === undefined || payload === undefined) return null;
  return (
    <line
      x1={cx - 22}
      x2={cx + 22}
      y1={cy}
      y2={cy}
      stroke="#111827"
      strokeWidth={3}
      strokeLinecap="round"
      role="img"
      aria-label={`${payload.country}: goal ${payload.cap} per minute`}
      data-testid={`cap-goal-${payload.country}`}
    />
  );
}

/** Granted per minute in each country against its goal, its cap. */
export function CapChart({ goals }: { goals: readonly CountryGoal[] }) {
  const rows: CapRow[] = goals.map((goal) => ({
    country: goal.country,
    achieved: goal.achieved_per_minute,
    cap: goal.goal_per_minute,
  }));
  return (
    <ResponsiveContainer width="100%" height={260}>
      <ComposedChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#eef0f4" vertical={false} />
        <XAxis dataKey="country" fontSize={12} />
        <YAxis fontSize={12} width={44} allowDecimals={false} />
        <Tooltip formatter={(value, name) => [typeof value === "number" ? `${formatRate(value)} / min` : "—", name]} />
        <Legend />
        <Bar
          dataKey="achieved"
          name="Granted / min"
          fill="#60a5fa"
          maxBarSize={48}
          shape={GrantedBar}
          isAnimationActive={false}
        />
        <Scatter dataKey="cap" name="Goal (cap) / min" fill="#111827" shape={CapMarker} isAnimationActive={false} />
      </ComposedChart>
    </ResponsiveContainer>
  );
}

interface PairTrendProps {
  series: MetricsSeries | undefined;
  withDay: boolean;
}

/** A pair's sent and delivered counts per step, and its success rate. */
export function PairTrendChart({ series, withDay }: PairTrendProps) {
  const rows = (series?.points ?? []).map((point) => ({
    t: Date.parse(point.t),
    sent: point.sent,
    delivered: point.delivered,
    rate: point.success_rate === null ? null : Math.round(point.success_rate * 1000) / 10,
  }));
  return (
    <ResponsiveContainer width="100%" height={240}>
      <ComposedChart data={rows} margin={{ top: 8, right: 8, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#eef0f4" vertical={false} />
        <XAxis
          dataKey="t"
          type="number"
          scale="time"
          domain={["dataMin", "dataMax"]}
          tickFormatter={(value: number) => formatMinute(value, withDay)}
          fontSize={12}
        />
        <YAxis yAxisId="count" fontSize={12} width={36} allowDecimals={false} />
        <YAxis yAxisId="rate" orientation="right" domain={[0, 100]} tickFormatter={percentTick} fontSize={12} width={44} />
        <Tooltip
          labelFormatter={(value) => formatMinute(Number(value), true)}
          formatter={(value, name) =>
            name === "Success rate" ? (typeof value === "number" ? `${value.toFixed(1)}%` : "—") : value
          }
        />
        <Legend />
        <Line yAxisId="count" dataKey="sent" name="Sent" stroke="#2563eb" strokeWidth={2} dot={false} isAnimationActive={false} />
        <Line
          yAxisId="count"
          dataKey="delivered"
          name="Delivered"
          stroke="#059669"
          strokeWidth={2}
          dot={false}
          isAnimationActive={false}
        />
        <Line
          yAxisId="rate"
          dataKey="rate"
          name="Success rate"
          stroke="#d97706"
          strokeDasharray="4 3"
          dot={loneDots(rows, "rate", "#d97706")}
          isAnimationActive={false}
        />
      </ComposedChart>
    </ResponsiveContainer>
  );
}
