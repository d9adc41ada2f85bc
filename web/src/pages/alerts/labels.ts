import type { AlertRule } from "../../api/types";

/** `session_crashed` → `Session crashed`. */
export function ruleLabel(rule: AlertRule | string): string {
  const words = rule.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
