// The API key form's checks apart from React: what it accepts before a round trip, and
// the server's validation errors (`details: [{field, message}]`) mapped back onto fields.
import type { FieldError } from "../../api/errors";
import type { ApiKeyCreate, ApiKeyScope } from "../../api/types";

export interface KeyFormValues {
  name: string;
  scopes: ApiKeyScope[];
  daily: string;
  monthly: string;
}

export type KeyFormField = keyof KeyFormValues;
export type KeyFormErrors = Partial<Record<KeyFormField | "form", string>>;

// Mirrors the server's limits.
const QUOTAS = {
  daily: { word: "daily", max: 100_000_000 },
  monthly: { word: "monthly", max: 1_000_000_000 },
} as const;

const WHOLE = /^\d+$/;

/** What is wrong with a quota as typed: nothing when empty (no quota) or a whole number in range. */
export function quotaError(text: string, which: "daily" | "monthly"): string | undefined {
  const value = text.trim();
  if (value === "") return undefined;
  const { word, max } = QUOTAS[which];
  const number = Number(value);
  if (!WHOLE.test(value) || number < 1) return `A ${word} quota is a whole number of at least 1, or empty for none.`;
  if (number > max) return `A ${word} quota is at most ${max.toLocaleString("en-US")}.`;
  return undefined;
}

/** A quota's limits in words, for a quota the server refused. */
function quotaRange(which: "daily" | "monthly"): string {
  const { word, max } = QUOTAS[which];
  return `A ${word} quota is a whole number from 1 to ${max.toLocaleString("en-US")}, or empty for none.`;
}

export function keyFormErrors(values: KeyFormValues): KeyFormErrors {
  const errors: KeyFormErrors = {};
  const daily = quotaError(values.daily, "daily");
  if (daily) errors.daily = daily;
  const monthly = quotaError(values.monthly, "monthly");
  if (monthly) errors.monthly = monthly;
  return errors;
}

export function hasKeyErrors(errors: KeyFormErrors): boolean {
  return Object.values(errors).some(Boolean);
}

export function toKeyPayload(values: KeyFormValues): ApiKeyCreate {
  return {
    name: values.name.trim(),
    scopes: values.scopes,
    ...(values.daily.trim() ? { daily_quota: Number(values.daily) } : {}),
    ...(values.monthly.trim() ? { monthly_quota: Number(values.monthly) } : {}),
  };
}

const SERVER_FIELDS: Record<string, KeyFormField> = {
  name: "name",
  scopes: "scopes",
  daily_quota: "daily",
  monthly_quota: "monthly",
};

/** Each server error on the field it names (a quota's in the form's own words); the rest,
 * or the fallback when none maps, on the form. */
export function serverErrorsToKeyForm(details: readonly FieldError[], fallback: string): KeyFormErrors {
  const errors: KeyFormErrors = {};
  const append = (key: KeyFormField | "form", message: string) => {
    errors[key] = errors[key] ? `${errors[key]} ${message}` : message;
  };
  for (const { field, message } of details) {
    const [name = ""] = field.replace(/^(body|query)\./, "").split(".");
    const target = SERVER_FIELDS[name];
    if (!target) append("form", field ? `${field}: ${message}` : message);
    else if (target === "daily" || target === "monthly") errors[target] = quotaRange(target);
    else append(target, message);
  }
  if (!hasKeyErrors(errors)) errors.form = fallback;
  return errors;
}
