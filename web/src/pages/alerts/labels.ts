/** `session_crashed` → `Session crashed`. */
export function ruleLabel(rule: string): string {
  const words = rule.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
