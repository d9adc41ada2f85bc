import { describe, expect, it } from "vitest";
import { refusedAdvice } from "./socket";

describe("a refused live connection's advice", () => {
  it("is to close other tabs when too many sockets are open, not when this one sent too many commands", () => {
    expect(refusedAdvice("at most 8 live sockets per user")).toBe("Close other dashboard tabs you no longer use.");
    expect(refusedAdvice(null)).toBe("Close other dashboard tabs you no longer use.");
    expect(refusedAdvice("too many commands on your live sockets: at most 60 at once and 20 a second")).toBe(
      "It sent commands faster than the control plane takes them on one connection.",
    );
  });
});
