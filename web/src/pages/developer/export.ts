/** Saves `rows` as a CSV (header from the first row's keys) or JSON file. */
export function download(rows: readonly object[], name: string, format: "csv" | "json"): void {
  const text = format === "json" ? JSON.stringify(rows, null, 2) : toCsv(rows);
  const blob = new Blob([text], { type: format === "json" ? "application/json" : "text/csv" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = `${name}.${format}`;
  link.click();
  URL.revokeObjectURL(url);
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(" ");
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

// A text cell a spreadsheet would read as a formula (SMS text and search results come
// from anyone who can text a test number): a leading quote keeps it text.
const FORMULA_START = /^[=+\-@\t\r]/;

function cell(value: unknown): string {
  let text = cellText(value);
  if (typeof value !== "number" && FORMULA_START.test(text)) text = `'${text}`;
  return /[",\n\r']/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(rows: readonly object[]): string {
  const first = rows[0];
  if (!first) return "";
  const columns = Object.keys(first);
  const lines = rows.map((row) => columns.map((column) => cell((row as Record<string, unknown>)[column])).join(","));
  return [columns.join(","), ...lines].join("\n") + "\n";
}
