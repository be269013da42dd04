// Lint runs inside `npm test`. TypeScript-aware rules on src/test/bench; the
// AssemblyScript kernel is checked by its own compiler (asc), not by eslint.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "build/**", "node_modules/**", "assembly/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-non-null-assertion": "off",
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
  {
    // The core is deterministic: time and randomness come from events and seeds.
    files: ["src/**/*.ts"],
    ignores: ["src/cli/**", "src/bench/**"],
    rules: {
      "no-restricted-properties": [
        "error",
        { object: "Date", property: "now", message: "Time comes from events (ts), not the clock." },
        { object: "Math", property: "random", message: "Use the seeded PRNG (src/util/prng.ts)." },
      ],
    },
  },
);
