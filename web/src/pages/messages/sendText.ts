import type { Send, Template } from "../../api/types";

/** A template's values as a person reads them: `token = 123456, name = Ali`. */
export function templateValues(params: Record<string, string>): string {
  const pairs = Object.entries(params).map(([name, value]) => `${name} = ${value}`);
  return pairs.length > 0 ? pairs.join(", ") : "—";
}

/** A send's values; the server shows each as ••• below the operator role, and that is said. */
export function sendValues(send: Pick<Send, "params" | "redacted">): string {
  const values = templateValues(send.params);
  return send.redacted ? `${values} (${CODES_HIDDEN})` : values;
}

/** What the dashboard says where the server hid a value or a text below the operator role. */
export const CODES_HIDDEN = "codes hidden from viewers";

/** The text a send's details show: what its latest try sent (a template's filled in), else
 * the text it was given; none for a template's send not tried yet. A redacted one says so. */
export function sendText(send: Pick<Send, "sent_text" | "text" | "redacted">): string {
  const text = send.sent_text ?? send.text ?? "—";
  return send.redacted ? `${text} (${CODES_HIDDEN})` : text;
}

const PLACEHOLDER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** `{name}` placeholders of a template (its text and any provider's own), to ask for their values. */
export function placeholders(template: Pick<Template, "body" | "provider_bodies"> | undefined): string[] {
  if (!template) return [];
  const bodies = [template.body, ...Object.values(template.provider_bodies)];
  const names = bodies.flatMap((body) => [...body.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ""));
  return [...new Set(names)].filter(Boolean);
}

/** A placeholder's name in words, to label its field: `order_id` reads "order id". */
export function paramLabel(name: string): string {
  return name.replace(/_+/g, " ").trim() || name;
}

/** What a parameter's value does, under its field. */
export function paramHint(name: string): string {
  return `Fills {${name}} in the template's text.`;
}
