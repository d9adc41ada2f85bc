import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError, errorMessage, networkError, toApiError } from "./errors";

const response = (status: number, headers: Record<string, string> = {}, statusText = "") =>
  new Response(null, { status, headers, statusText });

afterEach(() => {
  vi.useRealTimers();
});

describe("toApiError", () => {
  it("reads the error envelope", () => {
    const error = toApiError(response(422), {
      error: { code: "validation_error", message: "Invalid pair", details: [{ field: "country", message: "unknown" }, 7] },
    });
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.code).toBe("validation_error");
    expect(error.message).toBe("Invalid pair");
    expect(error.fieldErrors).toEqual([{ field: "country", message: "unknown" }]);
  });

  it("falls back to the status when the body says nothing", () => {
    const error = toApiError(response(502, {}, "Bad Gateway"), undefined);
    expect(error.code).toBe("http_502");
    expect(error.message).toBe("502 Bad Gateway");
    expect(error.fieldErrors).toEqual([]);
    expect(error.retryAfter).toBeNull();
  });

  it("reads Retry-After in seconds, rounded up", () => {
    expect(toApiError(response(429, { "Retry-After": "2.2" }), undefined).retryAfter).toBe(3);
  });

  it("reads Retry-After as a date", () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date("2024-05-01T12:00:00Z"));
    const header = { "Retry-After": "Wed, 01 May 2024 12:00:30 GMT" };
    expect(toApiError(response(503, header), undefined).retryAfter).toBe(30);
  });
});

describe("networkError and errorMessage", () => {
  it("describe a failed fetch", () => {
    const error = networkError(new TypeError("Failed to fetch"));
    expect(error.status).toBe(0);
    expect(error.code).toBe("network_error");
    expect(errorMessage(error)).toBe("Cannot reach the control plane (Failed to fetch)");
  });

  it("turn anything thrown into text", () => {
    expect(errorMessage("boom")).toBe("boom");
  });
});
