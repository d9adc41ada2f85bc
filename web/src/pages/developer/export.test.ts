import { describe, expect, it } from "vitest";

import { toCsv } from "./export";

describe("toCsv", () => {
  it("quotes what CSV needs quoted", () => {
    expect(toCsv([{ a: 'say "hi", then go', b: 2 }])).toBe('a,b\n"say ""hi"", then go",2\n');
  });

  it("keeps text a spreadsheet would run as a formula as text", () => {
    const csv = toCsv([
      { text: "=cmd|'/c calc'!A1", phone: "+998901234567", at: "@SUM(1)", tab: "\t=1" },
    ]);
    const [, row] = csv.trimEnd().split("\n");
    expect(row).toBe(`"'=cmd|'/c calc'!A1","'+998901234567","'@SUM(1)","'\t=1"`);
  });

  it("leaves numbers, negative ones included, as numbers", () => {
    expect(toCsv([{ delta: -3, text: "plain" }])).toBe("delta,text\n-3,plain\n");
  });

  it("joins lists, the numbers of a search hit among them", () => {
    expect(toCsv([{ phones: ["+998901234567", "+998901111111"] }])).toBe(
      `phones\n"'+998901234567 +998901111111"\n`,
    );
  });
});
