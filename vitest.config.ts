import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'],
    globalSetup: ['tests/helpers/global-setup.ts'],
    // Terminals in tests run bash without the machine's login scripts (see the script).
    env: { TERMINAL_SHELL: path.resolve(import.meta.dirname, 'tests/fixtures/profile-free-shell/bash') },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: run files two at a time; each gets its own database.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
