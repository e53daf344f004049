import { defineConfig } from "vitest/config";

// Model-loading tests are CPU-bound on a 2-core machine: run test files one at a time in child
// processes (native addons behave better in forks than in worker threads).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ["test/globalSetup.ts"],
  },
});
