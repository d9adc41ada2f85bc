import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The control plane serves the built app from web/dist; during development
// Vite serves it and forwards API calls to a locally running control plane.
const backend = process.env.SMSFLEET_DEV_BACKEND ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      "/api": { target: backend, ws: true },
      "/healthz": backend,
    },
  },
  build: {
    outDir: "dist",
    // No source maps: the bundle is served to every visitor of the control plane.
    sourcemap: false,
  },
});
