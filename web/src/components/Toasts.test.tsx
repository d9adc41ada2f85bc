import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { KEPT, ToastStack, withMessage, type Toast } from "./Toasts";

function shown(messages: ReadonlyArray<[Toast["kind"], string]>): Toast[] {
  return messages.reduce<Toast[]>((list, [kind, text], index) => withMessage(list, kind, text, index + 1), []);
}

const OFFLINE: [Toast["kind"], string] = ["error", "Cannot reach the control plane"];

describe("withMessage", () => {
  it("keeps one toast for a repeated message, counting the repeats", () => {
    const toasts = shown([OFFLINE, OFFLINE, OFFLINE, OFFLINE]);
    expect(toasts).toHaveLength(1);
    expect(toasts[0]).toMatchObject({ id: 1, text: OFFLINE[1], count: 4, seen: 4 });
  });

  it("moves a repeat after the newer messages", () => {
    const toasts = shown([OFFLINE, ["success", "Saved"], OFFLINE]);
    expect(toasts.map((toast) => [toast.text, toast.count])).toEqual([
      ["Saved", 1],
      [OFFLINE[1], 2],
    ]);
  });

  it("tells the same text of another kind apart", () => {
    const toasts = shown([
      ["warning", "Session crashed"],
      ["error", "Session crashed"],
    ]);
    expect(toasts.map((toast) => toast.count)).toEqual([1, 1]);
  });

  it("drops the oldest message past the kept number", () => {
    const texts = Array.from({ length: KEPT + 2 }, (_, index) => `message ${index}`);
    const toasts = shown(texts.map((text) => ["success", text]));
    expect(toasts.map((toast) => toast.text)).toEqual(texts.slice(2));
  });
});

describe("ToastStack", () => {
  it("shows a repeated message once, with ×N", () => {
    const markup = renderToStaticMarkup(<ToastStack toasts={shown([OFFLINE, OFFLINE, OFFLINE])} onDismiss={() => undefined} />);
    expect(markup.match(/data-testid="toast"/g)).toHaveLength(1);
    expect(markup.split(OFFLINE[1])).toHaveLength(2);
    expect(markup).toContain('data-testid="toast-count">×3<');
  });

  it("shows no count for a message said once", () => {
    const markup = renderToStaticMarkup(<ToastStack toasts={shown([OFFLINE])} onDismiss={() => undefined} />);
    expect(markup).not.toContain("toast-count");
  });
});
