import {
  Bar,
  type BarShapeProps,
  CartesianGrid,
  ComposedChart,
  Legend,
  Line,
  LineChart,
  ReferenceLine,
  ResponsiveContainer,
  Scatter,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import type { ReactNode } from "react";
import type { DotItemDotProps } from "recharts/types/util/types";
import type { CapChange, CountryGoal, MetricsSeries, MetricsStep, MetricsTimeseries } from "../../api/types";
import { ZONE_LABEL, formatDateMinute, formatMinute } from "../../format/time";
import { formatRate } from "./format";
import { GRANTED_LABEL, SENT_LABEL } from "./sendCounts";

const PALETTE = ["#2563eb", "#059669", "#d97706", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#475569", "#ea580c"];

function paletteAt(index: number): string {
  return PALETTE[index % PALETTE.length] ?? "#2563eb";
}

/** A deterministic hash of a short code (FNV-1a). */
function hashOf(code: string): number {
  let hash = 0x811c9dc5;
  for (let at = 0; at < code.length; at++) {
    hash ^= code.charCodeAt(at);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

/** Each country's colour, the same in every range and chart: the fleet's countries (those
 * of its pairs) in code order take the palette's colours in turn, so up to ten never share
 * one; any other country (one whose pairs are gone) takes the colour its code hashes to. */
export function countryColors(fleet: readonly string[]): (country: string) => string {
  const order = [...new Set(fleet)].sort();
  const known = new Map(order.map((country, index) => [country, paletteAt(index)]));
  return (country) => known.get(country) ?? paletteAt(hashOf(country));
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
// Whole ticks without a decimal, so a cap in the hundreds still fits the axis.
const rateTick = (value: number) => (Number.isInteger(value) ? String(value) : formatRate(value));

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

const STEP_MS: Record<MetricsStep, number> = { "1m": 60_000, "5m": 300_000, "1h": 3_600_000 };

/** The start of a trend's last step when that step is still running at the trend's end
 * (null when it is whole): its figures are what came so far, and fall short. */
export function runningStep(trend: Pick<MetricsTimeseries, "end" | "step" | "series"> | undefined): number | null {
  if (!trend) return null;
  let last = Number.NEGATIVE_INFINITY;
  for (const line of trend.series) {
    for (const point of line.points) last = Math.max(last, Date.parse(point.t));
  }
  return Number.isFinite(last) && last + STEP_MS[trend.step] > Date.parse(trend.end) ? last : null;
}

/** The data key of a line's stretch into the running step. */
export const runningKey = (key: string) => `${key}:running`;

/** The rows with each key's value in the running step moved to its own column, which
 * also holds the step before, so that a dashed stretch carries the line on to it. */
export function splitRunning(rows: readonly Row[], keys: readonly string[], running: number | null): Row[] {
  const index = rows.findIndex((row) => row.t === running);
  if (index < 0) return [...rows];
  return rows.map((row, at) => {
    if (at !== index && at !== index - 1) return row;
    const copy: Row = { ...row };
    for (const key of keys) {
      copy[runningKey(key)] = row[key] ?? null;
      if (at === index) copy[key] = null;
    }
    return copy;
  });
}

/** A step's time on a tooltip, saying when the step is still running. */
function stepLabel(running: number | null) {
  return (value: unknown) => {
    const t = Number(value);
    return t === running ? `${formatDateMinute(t)} (so far)` : formatDateMinute(t);
  };
}

// The time axis's ticks are bare: the axis says its zone once, under them.
const TIME_AXIS = { height: 40, label: { value: `Time (${ZONE_LABEL})`, position: "insideBottom", fontSize: 11 } } as const;

// The stretch into the step still running; the success rate's own line is dashed
// already, its stretch dotted.
const RUNNING_DASH = "5 4";
const RUNNING_RATE_DASH = "1 3";

// One tooltip entry per line: a line and its running stretch share the step before.
const oneEntryPerLine = (entry: { name?: unknown }) => entry.name;

interface TrendProps {
  series: readonly MetricsSeries[];
  /** A country's colour (`countryColors`). */
  colorOf: (country: string) => string;
  withDay: boolean;
  /** The start of the step still running (`runningStep`), drawn dashed. */
  running: number | null;
}

interface CountryTrendProps extends TrendProps {
  /** A point's figure as drawn (null: none, the line breaks). */
  value: (point: MetricsSeries["points"][number]) => number | null;
  yAxis: { domain?: [number, number]; tick: (value: number) => string };
  /** A figure as the tooltip shows it. */
  shown: (value: number) => string;
  /** How many attempts a step's figure is made of, said beside it on the tooltip (a rate
   * of 1 attempt is no trend). */
  basis?: (point: MetricsSeries["points"][number]) => number;
  /** A dashed horizontal line across the chart (a cap they all share), named on the
   * chart's card: a label on it would sit on the lines that reach it. */
  reference?: number;
  /** Each country's cap at a step: one that is not `reference` at some step is drawn as a
   * dashed step line of its own colour. */
  capOf?: (country: string, t: number) => number | null;
}

/** The data key of how many attempts a line's figure of a step is made of. */
const basisKey = (key: string) => `basis:${key}`;

/** The rows with each line's basis of each step in its own column (`basisKey`). */
export function withBasis(
  rows: readonly Row[],
  series: readonly MetricsSeries[],
  basis: ((point: MetricsSeries["points"][number]) => number) | undefined,
): Row[] {
  if (basis === undefined) return [...rows];
  const counts = new Map<number, Row>();
  for (const line of series) {
    for (const point of line.points) {
      const t = Date.parse(point.t);
      counts.set(t, { ...counts.get(t), [basisKey(line.key)]: basis(point) });
    }
  }
  return rows.map((row) => ({ ...row, ...counts.get(row.t ?? Number.NaN) }));
}

/** How many attempts the figure of `dataKey` (a line, or its running stretch) in `row` is
 * made of, when the chart says it. */
export function basisOf(row: Row | undefined, dataKey: string): number | undefined {
  const made = row?.[basisKey(dataKey.replace(/:running$/, ""))];
  return typeof made === "number" ? made : undefined;
}

/** The data key of a country's own cap line. */
export const capKey = (key: string) => `cap:${key}`;

/** The countries whose cap at some row is not `reference`, and the rows with each one's
 * cap at every step in its own column (`capKey`). */
export function withOwnCaps(
  rows: readonly Row[],
  keys: readonly string[],
  reference: number | undefined,
  capOf: ((country: string, t: number) => number | null) | undefined,
): { rows: Row[]; own: string[] } {
  if (capOf === undefined) return { rows: [...rows], own: [] };
  const own = keys.filter((key) => rows.some((row) => capOf(key, row.t ?? 0) !== (reference ?? null)));
  if (own.length === 0) return { rows: [...rows], own };
  return { rows: rows.map((row) => ({ ...row, ...Object.fromEntries(own.map((key) => [capKey(key), capOf(key, row.t ?? 0)])) })), own };
}

/** One line per country over time, the step still running dashed. */
function CountryTrendChart({ series, colorOf, withDay, running, value, yAxis, shown, basis, reference, capOf }: CountryTrendProps) {
  const keys = series.map((line) => line.key).sort();
  const { rows, own } = withOwnCaps(withBasis(splitRunning(pivot(series, value), keys, running), series, basis), keys, reference, capOf);
  return (
    <ResponsiveContainer width="100%" height={260}>
      <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#eef0f4" vertical={false} />
        <XAxis
          dataKey="t"
          type="number"
          scale="time"
          domain={["dataMin", "dataMax"]}
          tickFormatter={(t: number) => formatMinute(t, withDay)}
          fontSize={12}
          {...TIME_AXIS}
        />
        <YAxis domain={yAxis.domain} tickFormatter={yAxis.tick} fontSize={12} width={44} />
        <Tooltip
          labelFormatter={stepLabel(running)}
          formatter={(figure, _name, item) => {
            if (typeof figure !== "number") return "—";
            const made = basisOf(item.payload as Row | undefined, String(item.dataKey ?? ""));
            return made === undefined ? shown(figure) : `${shown(figure)} (${made} completed)`;
          }}
          payloadUniqBy={oneEntryPerLine}
        />
        <Legend />
        {reference !== undefined && (
          <ReferenceLine y={reference} ifOverflow="extendDomain" stroke="#111827" strokeDasharray="6 3" />
        )}
        {own.map((key) => (
          <Line
            key={capKey(key)}
            dataKey={capKey(key)}
            name={`${key} cap`}
            type="stepAfter"
            stroke={colorOf(key)}
            strokeWidth={1.5}
            strokeDasharray="6 3"
            legendType="none"
            dot={false}
            isAnimationActive={false}
          />
        ))}
        {keys.map((key) => (
          <Line
            key={key}
            dataKey={key}
            name={key}
            stroke={colorOf(key)}
            strokeWidth={2}
            dot={loneDots(rows, key, colorOf(key))}
            isAnimationActive={false}
          />
        ))}
        {running !== null &&
          keys.map((key) => (
            <Line
              key={runningKey(key)}
              dataKey={runningKey(key)}
              name={key}
              className="trend-running"
              stroke={colorOf(key)}
              strokeWidth={2}
              strokeDasharray={RUNNING_DASH}
              legendType="none"
              dot={loneDots(rows, runningKey(key), colorOf(key))}
              isAnimationActive={false}
            />
          ))}
      </LineChart>
    </ResponsiveContainer>
  );
}

/** Success rate per country over time, one line each; the step still running dashed. */
export function SuccessTrendChart(props: TrendProps) {
  return (
    <CountryTrendChart
      {...props}
      value={(point) => (point.success_rate === null ? null : Math.round(point.success_rate * 1000) / 10)}
      yAxis={{ domain: [0, 100], tick: percentTick }}
      shown={(figure) => `${figure.toFixed(1)}%`}
      basis={(point) => point.completed}
    />
  );
}

/** Sends granted per minute in each step: what the cap counts, by when they were granted
 * (outcomes come later, so a step's sent may exceed the cap while its grants do not). */
export function grantedPerMinute(point: MetricsSeries["points"][number], step: MetricsStep): number {
  return perMinute(point.granted, step);
}

/** A count of a step as a rate per minute, whatever the step, to one decimal. */
function perMinute(count: number, step: MetricsStep): number {
  return Math.round((count / (STEP_MS[step] / 60_000)) * 10) / 10;
}

/** The grants trend's reference: the cap most countries share (dashed), and the countries
 * whose cap is another, each with its own (named in the title). */
export interface CapReference {
  cap: number;
  others: { country: string; cap: number }[];
}

export function capReference(goals: readonly CountryGoal[] | undefined): CapReference | null {
  const counts = new Map<number, number>();
  for (const goal of goals ?? []) counts.set(goal.goal_per_minute, (counts.get(goal.goal_per_minute) ?? 0) + 1);
  // The most common cap; of two as common, the higher (the usual one, lowered for a few).
  const [cap] = [...counts].sort(([capA, countA], [capB, countB]) => countB - countA || capB - capA)[0] ?? [];
  if (cap === undefined) return null;
  const others = (goals ?? [])
    .filter((goal) => goal.goal_per_minute !== cap)
    .map((goal) => ({ country: goal.country, cap: goal.goal_per_minute }))
    .sort((a, b) => a.country.localeCompare(b.country));
  return { cap, others };
}

/** Countries named with their own cap in the title at most; the rest are counted. */
const OTHER_CAPS_NAMED = 4;

/** `cap 10/min dashed` and, when some differ, `; UZ 5, KZ 20` (or `and 3 more`): those
 * have a dashed line of their own, in their colour, as has a country whose cap changed,
 * each cap as it was at each step (named on the tooltip). */
export function capWords(reference: CapReference): string {
  const named = reference.others.slice(0, OTHER_CAPS_NAMED).map(({ country, cap }) => `${country} ${cap}`);
  const more = reference.others.length - named.length;
  const others = named.length ? `; ${named.join(", ")}${more ? ` and ${more} more` : ""}` : "";
  return `cap ${reference.cap}/min dashed${others}`;
}

/** The countries' caps through a trend's range: their changes in it (oldest first) and
 * each country's cap now. */
export interface CapHistory {
  changes: readonly CapChange[];
  now: ReadonlyMap<string, number>;
}

/** `country`'s cap at the moment `t` (before its first change after `t`, that change's
 * previous cap; with none after, its cap now; null when unknown), or, over a step from `t`
 * to `until`, the highest it was in the step: a step's grants are read against the most
 * the limiter allowed in it. */
export function capAt(history: CapHistory, country: string, t: number, until: number = t): number | null {
  let highest: number | null = null;
  for (const change of history.changes) {
    const at = Date.parse(change.at);
    if (change.country !== country || at <= t) continue;
    highest = Math.max(highest ?? change.previous_cap, change.previous_cap); // the cap at `t`
    if (at >= until) return highest;
    highest = Math.max(highest, change.cap); // in force from within the step
  }
  return highest ?? history.now.get(country) ?? null;
}

/** A trend's step in milliseconds. */
export const stepMs = (step: MetricsStep): number => STEP_MS[step];

/** The countries whose cap changed in the range from `since` on, each with its last change. */
export function capsChangedSince(history: CapHistory, since: number): Map<string, CapChange> {
  const changed = new Map<string, CapChange>();
  for (const change of history.changes) if (Date.parse(change.at) >= since) changed.set(change.country, change);
  return changed;
}

/** Sends granted per minute per country over time, against the cap most of them share;
 * a country whose cap was another at some step has its own, as it was then. */
export function GrantTrendChart({
  step,
  cap,
  caps,
  ...props
}: TrendProps & { step: MetricsStep; cap: number | null; caps: CapHistory | null }) {
  return (
    <CountryTrendChart
      {...props}
      value={(point) => grantedPerMinute(point, step)}
      yAxis={{ tick: (figure) => formatRate(figure) }}
      shown={(figure) => `${formatRate(figure)} / min`}
      reference={cap ?? undefined}
      capOf={caps === null ? undefined : (country, t) => capAt(caps, country, t, t + STEP_MS[step])}
    />
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
  step: MetricsStep;
  /** The cap of the pair's country at a step, shared with its other pairs: a dashed
   * step line (null: not known). */
  capOf: ((t: number) => number | null) | null;
  withDay: boolean;
  /** The start of the step still running (`runningStep`), drawn dashed. */
  running: number | null;
}

/** A pair's steps as its trend draws them: sends per minute, granted by grant time and
 * sent and delivered by report time, whatever the step; the success rate in percent. */
export function pairRows(series: MetricsSeries | undefined, step: MetricsStep): Row[] {
  return (series?.points ?? []).map((point) => ({
    t: Date.parse(point.t),
    granted: grantedPerMinute(point, step),
    sent: perMinute(point.sent, step),
    delivered: perMinute(point.delivered, step),
    rate: point.success_rate === null ? null : Math.round(point.success_rate * 1000) / 10,
  }));
}

/** A pair's sends per minute (granted, set against its country's cap; sent and delivered,
 * counted when reported) and its success rate; the step still running dashed (or dotted). */
export function PairTrendChart({ series, step, capOf, withDay, running }: PairTrendProps) {
  const steps = splitRunning(pairRows(series, step), ["granted", "sent", "delivered", "rate"], running);
  const rows = capOf === null ? steps : steps.map((row) => ({ ...row, cap: capOf(row.t ?? 0) }));
  const lines = [
    { key: "granted", name: GRANTED_LABEL, axis: "count", color: "#7c3aed", dash: undefined },
    { key: "sent", name: SENT_LABEL, axis: "count", color: "#2563eb", dash: undefined },
    { key: "delivered", name: "Delivered, by report time", axis: "count", color: "#059669", dash: undefined },
    { key: "rate", name: "Success rate", axis: "rate", color: "#d97706", dash: "4 3" },
  ] as const;
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
          {...TIME_AXIS}
        />
        <YAxis yAxisId="count" fontSize={12} width={44} tickFormatter={rateTick} />
        <YAxis yAxisId="rate" orientation="right" domain={[0, 100]} tickFormatter={percentTick} fontSize={12} width={44} />
        <Tooltip
          labelFormatter={stepLabel(running)}
          formatter={(value, name) =>
            typeof value !== "number"
              ? "—"
              : name === "Success rate"
                ? `${value.toFixed(1)}%`
                : `${formatRate(value)} / min`
          }
          payloadUniqBy={oneEntryPerLine}
        />
        {/* In drawn order: granted, what the cap counts, first. */}
        <Legend itemSorter={null} />
        {capOf !== null && (
          <Line
            yAxisId="count"
            dataKey="cap"
            name="Cap"
            type="stepAfter"
            stroke="#111827"
            strokeWidth={1.5}
            strokeDasharray="6 3"
            legendType="none"
            dot={false}
            isAnimationActive={false}
          />
        )}
        {lines.map((line) => (
          <Line
            key={line.key}
            yAxisId={line.axis}
            dataKey={line.key}
            name={line.name}
            stroke={line.color}
            strokeWidth={line.dash ? 1 : 2}
            strokeDasharray={line.dash}
            dot={line.key === "rate" ? loneDots(rows, line.key, line.color) : false}
            isAnimationActive={false}
          />
        ))}
        {running !== null &&
          lines.map((line) => (
            <Line
              key={runningKey(line.key)}
              yAxisId={line.axis}
              dataKey={runningKey(line.key)}
              name={line.name}
              className="trend-running"
              stroke={line.color}
              strokeWidth={line.dash ? 1 : 2}
              strokeDasharray={line.dash ? RUNNING_RATE_DASH : RUNNING_DASH}
              legendType="none"
              dot={line.key === "rate" ? loneDots(rows, runningKey(line.key), line.color) : false}
              isAnimationActive={false}
            />
          ))}
      </ComposedChart>
    </ResponsiveContainer>
  );
}
