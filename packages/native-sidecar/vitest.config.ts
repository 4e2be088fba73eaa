import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["@ku0/source"] },
  ssr: { resolve: { conditions: ["@ku0/source"] } },
  test: { include: ["src/**/*.test.ts"] },
});
