import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it, vi } from "vitest";
import type { Pair } from "../../api/types";
import { DeletePairDialog } from "./DeletePairDialog";
import { PairsTable, type PairActions } from "./PairsTable";

// The API client needs a browser's window; nothing is sent from here.
vi.mock("../../api/endpoints", () => ({ deletePair: vi.fn() }));

const pair = (changes: Partial<Pair>): Pair =>
  ({
    key: "IN_vi",
    country: "IN",
    country_name: "India",
    operator: "Vi India",
    region: null,
    state: "enabled",
    state_actor: null,
    state_reason: null,
    state_changed_at: null,
    is_high_priority: true,
    phone_numbers: ["+919812345678"],
    programs: ["program1"],
    ...changes,
  }) as Pair;

const actions = (mayChangeHighPriority: boolean): PairActions => ({
  onEdit: () => undefined,
  onDelete: () => undefined,
  onTogglePriority: () => undefined,
  onResume: () => undefined,
  mayChangeHighPriority,
});

function table(pairs: Pair[], mayChangeHighPriority: boolean): string {
  return renderToStaticMarkup(
    <PairsTable pairs={pairs} actions={actions(mayChangeHighPriority)} emptyText="none" busyKey={null} />,
  );
}

/** The opening tag of the element with this test id. */
function tag(html: string, testId: string): string {
  const match = new RegExp(`<[^>]*data-testid="${testId}"[^>]*>`).exec(html);
  if (!match) throw new Error(`no element ${testId}`);
  return match[0];
}

describe("PairsTable", () => {
  it("turns a high-priority pair's Unmark and Delete off for a non-admin, saying why on the row", () => {
    const html = table([pair({})], false);
    expect(tag(html, "toggle-priority-IN_vi")).toContain("disabled");
    expect(tag(html, "delete-IN_vi")).toContain("disabled");
    expect(tag(html, "edit-IN_vi")).not.toContain("disabled");
    expect(html).toContain('data-testid="admin-pair-hint-IN_vi">Only an admin can unmark or delete.<');
  });

  it("leaves them on for an admin, and a normal pair's for anyone", () => {
    const admin = table([pair({})], true);
    expect(tag(admin, "toggle-priority-IN_vi")).not.toContain("disabled");
    expect(tag(admin, "delete-IN_vi")).not.toContain("disabled");
    expect(admin).not.toContain("admin-pair-hint");

    const normal = table([pair({ key: "UZ_uzmobile", is_high_priority: false })], false);
    expect(tag(normal, "delete-UZ_uzmobile")).not.toContain("disabled");
    expect(normal).not.toContain("admin-pair-hint");
  });

  it("leaves marking a pair high priority to an admin: its sessions then always run", () => {
    const normal = (mayChange: boolean) => table([pair({ key: "UZ_uzmobile", is_high_priority: false })], mayChange);
    expect(tag(normal(false), "toggle-priority-UZ_uzmobile")).toContain("disabled");
    expect(tag(normal(false), "toggle-priority-UZ_uzmobile")).toContain("Only an admin can mark a pair high priority");
    expect(tag(normal(true), "toggle-priority-UZ_uzmobile")).not.toContain("disabled");
  });
});

describe("DeletePairDialog", () => {
  function dialog(target: Pair, mayDeleteHighPriority: boolean): string {
    return renderToStaticMarkup(
      <QueryClientProvider client={new QueryClient()}>
        <DeletePairDialog
          pair={target}
          mayDeleteHighPriority={mayDeleteHighPriority}
          onDeleted={() => undefined}
          onClose={() => undefined}
        />
      </QueryClientProvider>,
    );
  }

  it("offers a non-admin nothing to confirm for a high-priority pair", () => {
    const html = dialog(pair({}), false);
    expect(html).toContain("Only an admin can delete it.");
    expect(html).not.toContain("confirm-acknowledge");
    expect(html).not.toContain("confirm-button");
  });

  it("asks an admin to acknowledge, and anyone to confirm a normal pair", () => {
    const admin = dialog(pair({}), true);
    expect(admin).toContain("confirm-acknowledge");
    expect(admin).toContain("confirm-button");

    const normal = dialog(pair({ is_high_priority: false }), false);
    expect(normal).not.toContain("confirm-acknowledge");
    expect(normal).toContain("confirm-button");
  });
});
