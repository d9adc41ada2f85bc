import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { Identifier, identifierParts } from "./Identifier";

describe("identifierParts", () => {
  it("ends a part after each separator", () => {
    expect(identifierParts("program3_UZ_beeline")).toEqual(["program3_", "UZ_", "beeline"]);
    expect(identifierParts("session.gave-up")).toEqual(["session.", "gave-", "up"]);
  });

  it("keeps a token without separators whole, and an empty value as one part", () => {
    expect(identifierParts("program3")).toEqual(["program3"]);
    expect(identifierParts("")).toEqual([""]);
  });

  it("keeps a trailing or doubled separator with the part before it", () => {
    expect(identifierParts("a__b_")).toEqual(["a_", "_", "b_"]);
  });
});

describe("Identifier", () => {
  it("offers a line break after each underscore, the text unchanged", () => {
    const html = renderToStaticMarkup(<Identifier as="code" value="program3_UZ_beeline" />);
    expect(html).toBe('<code class="identifier">program3_<wbr/>UZ_<wbr/>beeline</code>');
  });
});
