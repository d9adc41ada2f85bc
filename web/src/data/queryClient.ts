import { QueryClient } from "@tanstack/react-query";

/**
 * The app's query cache. Failed requests are not retried on their own: the page
 * shows the error with a retry button, and the connection banner collects
 * network errors. Requests go out even when the browser says it is offline:
 * that is how the pages find out the control plane is back.
 */
export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry: false, refetchOnWindowFocus: false, networkMode: "always" },
      mutations: { retry: false, networkMode: "always" },
    },
  });
}
