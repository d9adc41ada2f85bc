// Metrics calls: summary, time series and the country × hour heatmap.
import { api, call } from "./client";
import type { MetricsGroupBy, MetricsStep, MetricsWindow } from "./types";

export interface SummaryQuery {
  window: MetricsWindow;
  group_by?: MetricsGroupBy;
}

export const metricsSummary = (query: SummaryQuery) =>
  call(api.GET("/api/v1/metrics/summary", { params: { query } }));

/** Per country: the goal (its cap), what it is granted now, and why when under it. */
export const countryGoals = () => call(api.GET("/api/v1/dispatch/goals"));

export interface TimeseriesQuery {
  window: MetricsWindow;
  step: MetricsStep;
  group_by?: MetricsGroupBy;
  key?: string;
}

export const metricsTimeseries = (query: TimeseriesQuery) =>
  call(api.GET("/api/v1/metrics/timeseries", { params: { query } }));

export const metricsHeatmap = (window: MetricsWindow = "24h") =>
  call(api.GET("/api/v1/metrics/heatmap", { params: { query: { window } } }));
