import type { ApiKey } from "../../api/types";

/** What a key may still make of its quotas: `5 of 5 left today · 90 of 100 left this month`. */
export function quota(key: Pick<ApiKey, "daily" | "monthly">): string {
  const parts = [];
  if (key.daily) parts.push(`${key.daily.remaining} of ${key.daily.limit} left today`);
  if (key.monthly) parts.push(`${key.monthly.remaining} of ${key.monthly.limit} left this month`);
  return parts.length ? parts.join(" · ") : "no quota";
}
