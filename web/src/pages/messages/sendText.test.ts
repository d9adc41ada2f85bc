import { describe, expect, it } from "vitest";

import { paramHint, paramLabel, placeholders, sendText, sendValues, templateValues } from "./sendText";

describe("templateValues", () => {
  it("names each value", () => {
    expect(templateValues({ token: "123456", name: "Ali" })).toBe("token = 123456, name = Ali");
  });

  it("says none when there are none", () => {
    expect(templateValues({})).toBe("—");
  });
});

describe("sendValues", () => {
  it("are the send's values, said hidden when the server redacted them", () => {
    expect(sendValues({ params: { token: "123456" }, redacted: false })).toBe("token = 123456");
    expect(sendValues({ params: { token: "•••" }, redacted: true })).toBe("token = ••• (codes hidden from viewers)");
  });
});

describe("sendText", () => {
  it("is what a template's send sent, once tried", () => {
    expect(sendText({ sent_text: "Your code is 424242", text: null, redacted: false })).toBe("Your code is 424242");
    expect(sendText({ sent_text: null, text: null, redacted: false })).toBe("—");
  });

  it("is the text given to a send without a template, before and after its try", () => {
    expect(sendText({ sent_text: null, text: "Hello", redacted: false })).toBe("Hello");
    expect(sendText({ sent_text: "Hello", text: "Hello", redacted: false })).toBe("Hello");
  });

  it("says the codes were hidden when the server redacted the send", () => {
    expect(sendText({ sent_text: "Your code is •••", text: null, redacted: true })).toBe(
      "Your code is ••• (codes hidden from viewers)",
    );
    expect(sendText({ sent_text: null, text: null, redacted: true })).toBe("— (codes hidden from viewers)");
  });
});

describe("a template's parameters", () => {
  it("are its placeholders, once each, from its text and any provider's own", () => {
    expect(placeholders({ body: "Your code is {token}, {name}", provider_bodies: { twilio: "{token} is your code" } })).toEqual([
      "token",
      "name",
    ]);
    expect(placeholders({ body: "Hello", provider_bodies: {} })).toEqual([]);
    expect(placeholders(undefined)).toEqual([]);
  });

  it("are labelled by name in words, with what they fill", () => {
    expect(paramLabel("token")).toBe("token");
    expect(paramLabel("order_id")).toBe("order id");
    expect(paramHint("token")).toBe("Fills {token} in the template's text.");
  });
});
