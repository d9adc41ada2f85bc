import { Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { UsageDay, UsageEndpoint } from "../../api/types";

const BOUNDS = ["≤1", "≤2", "≤5", "≤10", "≤25", "≤50", "≤100", "≤250", "≤500", "≤1000", "≤2500", "≤5000", ">5000"];

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

export function LatencyHistogram({ histogram }: { histogram: readonly number[] }) {
  const rows = histogram.map((count, index) => ({ bucket: `${BOUNDS[index] ?? "?"} ms`, requests: count }));
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
