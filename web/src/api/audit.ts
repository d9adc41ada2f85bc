// Audit log calls (admins only): a page of entries, newest first, and where the next,
// older page starts.
import { api, call } from "./client";
import type { paths } from "./schema";

type AuditRoute = paths["/api/v1/audit"]["get"];
export type AuditQuery = NonNullable<AuditRoute["parameters"]["query"]>;
export type AuditEvent = AuditRoute["responses"][200]["content"]["application/json"][number];
export type AuditAction = AuditEvent["action"];

export interface AuditPage {
  /** Newest first. */
  events: AuditEvent[];
  /** The cursor of the next, older page (`before`); null on the last one. */
  nextBefore: string | null;
}

// The cursor comes in a header, beside the `Link` that names the next page.
const NEXT_BEFORE_HEADER = "X-Next-Before";

export async function listAudit(query: AuditQuery): Promise<AuditPage> {
  const request = api.GET("/api/v1/audit", { params: { query } });
  const events = await call(request);
  const { response } = await request;
  return { events, nextBefore: response.headers.get(NEXT_BEFORE_HEADER) };
}
