import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { UsageDay, UsageEndpoint } from "../../api/types";
import { formatMs } from "../dashboard/format";

export function UsageTrendChart({ days }: { days: readonly UsageDay[] }) {
  const rows = days.map((day) => ({ day: day.day, requests: day.requests, errors: day.client_errors + day.server_errors }));
  return (
    <ResponsiveContainer width="100%" height={240}>
      <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#eef0f4" vertical={false} />
        <XAxis dataKey="day" tick={{ fontSize: 12 }} />
        <YAxis allowDecimals={false} tick={{ fontSize: 12 }} width={48} />
        <Tooltip />
        <Legend />
        <Line type="monotone" dataKey="requests" stroke="#2563eb" dot={rows.length < 3} isAnimationActive={false} />
        <Line type="monotone" dataKey="errors" stroke="#dc2626" dot={rows.length < 3} isAnimationActive={false} />
      </LineChart>
    </ResponsiveContainer>
  );
}

export function EndpointBars({ endpoints }: { endpoints: readonly UsageEndpoint[] }) {
  const rows = endpoints.slice(0, 12).map((e) => ({
    name: `${e.method} ${e.route}`,
    ok: e.requests - e.client_errors - e.server_errors,
    errors: e.client_errors + e.server_errors,
  }));
  return (
    <ResponsiveContainer width="100%" height={Math.max(120, rows.length * 28 + 40)}>
      <BarChart data={rows} layout="vertical" margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
        <CartesianGrid stroke="#eef0f4" horizontal={false} />
        <XAxis type="number" allowDecimals={false} tick={{ fontSize: 12 }} />
        <YAxis type="category" dataKey="name" width={260} tick={{ fontSize: 11 }} />
        <Tooltip />
        <Legend />
        <Bar dataKey="ok" stackId="a" fill="#2563eb" isAnimationActive={false} />
        <Bar dataKey="errors" stackId="a" fill="#dc2626" isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}

/** `bucketLabels([1, 2])`: "≤ 1 ms", "≤ 2 ms", "> 2 ms": a bucket per bound, the last one open-ended. */
export function bucketLabels(bounds: readonly number[]): string[] {
  const last = bounds.at(-1);
  return [...bounds.map((bound) => `≤ ${formatMs(bound)}`), ...(last === undefined ? [] : [`> ${formatMs(last)}`])];
}

/** Requests per latency bucket, labelled with the buckets' edges as the API counts them. */
export function LatencyHistogram({ histogram, bounds }: { histogram: readonly number[]; bounds: readonly number[] }) {
  const labels = bucketLabels(bounds);
  const rows = histogram.map((count, index) => ({ bucket: labels[index] ?? "", requests: count }));
  return (
    <ResponsiveContainer width="100%" height={200}>
      <BarChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
        <CartesianGrid stroke="#eef0f4" vertical={false} />
        <XAxis dataKey="bucket" tick={{ fontSize: 11 }} />
        <YAxis allowDecimals={false} tick={{ fontSize: 12 }} width={48} />
        <Tooltip />
        <Bar dataKey="requests" fill="#7c3aed" isAnimationActive={false} />
      </BarChart>
    </ResponsiveContainer>
  );
}
