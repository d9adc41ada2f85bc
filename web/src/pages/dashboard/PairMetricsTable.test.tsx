import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { MetricsGroup } from "../../api/types";
import { COMPLETED_HINT, PairMetricsTable, SENT_HINT, type PairRowData } from "./PairMetricsTable";

const row: PairRowData = {
  key: "UZ_uzmobile",
  pair: undefined,
  // More sent than completed: two attempts broken off after their SMS reached the gateway.
  metrics: { key: "UZ_uzmobile", pair: "UZ_uzmobile", completed: 10, sent: 12, delivered: 9 } as MetricsGroup,
};

/** The title of the header button of this column. */
function headerTitle(html: string, column: string): string {
  const match = new RegExp(`data-testid="sort-${column}"[^>]*><button[^>]*title="([^"]*)"`).exec(html);
  if (!match) throw new Error(`no header ${column}`);
  return (match[1] ?? "").replaceAll("&#x27;", "'");
}

describe("PairMetricsTable", () => {
  const html = renderToStaticMarkup(<PairMetricsTable rows={[row]} selected={null} onSelect={() => undefined} />);

  it("says on the Sent and Completed headers why sent may exceed completed", () => {
    expect(headerTitle(html, "sent")).toBe(`${SENT_HINT} Click to sort by sent.`);
    expect(SENT_HINT).toContain("broken off by a pause or a stop");
    expect(SENT_HINT).toContain("it may exceed Completed");
    expect(headerTitle(html, "completed")).toBe(`${COMPLETED_HINT} Click to sort by completed.`);
    expect(COMPLETED_HINT).toContain("given up unsent too late after its grant, is not one");
  });

  it("names the column of completed attempts for what it counts, not all attempts", () => {
    const header = /data-testid="sort-completed"[^>]*><button[^>]*>([^<]*)</.exec(html);
    expect(header?.[1]).toBe("Completed");
    expect(html).not.toContain(">Attempts<");
  });

  it("keeps the plain sort title on the other headers", () => {
    expect(headerTitle(html, "delivered")).toBe("Sort by delivered");
  });
});
