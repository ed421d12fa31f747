import js from "@eslint/js"
import nx from "@nx/eslint-plugin"
import tseslint from "typescript-eslint"

// Apps are thin and never import each other; pure libs (domain, workflow) never reach an adapter,
// so the order workflow stays testable without a broker. Tests may also use libs/testing.
const boundaries = (tests) => {
  const testing = tests ? ["kind:testing"] : []
  return {
    enforceBuildableLibDependency: false,
    allow: [],
    depConstraints: [
      { sourceTag: "type:app", onlyDependOnLibsWithTags: ["type:lib"] },
      { sourceTag: "type:bench", onlyDependOnLibsWithTags: ["type:lib"] },
      { sourceTag: "type:deploy", onlyDependOnLibsWithTags: ["type:lib"] },
      { sourceTag: "kind:pure", onlyDependOnLibsWithTags: ["kind:pure", ...testing] },
      { sourceTag: "kind:runtime", onlyDependOnLibsWithTags: ["kind:pure", "kind:runtime", ...testing] },
      { sourceTag: "kind:adapter", onlyDependOnLibsWithTags: ["kind:pure", "kind:runtime", "kind:adapter", ...testing] },
      { sourceTag: "kind:testing", onlyDependOnLibsWithTags: ["kind:pure", "kind:runtime", "kind:adapter", "kind:testing"] }
    ]
  }
}

// A lib's src/internal/ (and any src/ file its package does not export) is its own: other projects
// import a lib only through its package's entry points (libs/*/package.json "exports"), never by a
// relative path into its src/. The bench alone may import the internals it measures.
const internalsGroup = { group: ["@conveyor/*/internal/*", "@conveyor/*/src/*"], message: "internal to its lib: import the lib's public entry point instead" }
const crossingRelative = { regex: "^(\\.\\./)+(libs/)?[a-z0-9-]+/src/", message: "reaches into another project's src/: import its package (@conveyor/<lib>) instead" }
const privateInternals = (allowInternals = false) => ["error", { patterns: allowInternals ? [crossingRelative] : [internalsGroup, crossingRelative] }]

export default tseslint.config(
  { ignores: ["**/dist/**", "**/node_modules/**", "**/tmp/**", "**/.nx/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mjs"],
    plugins: { "@nx": nx },
    languageOptions: { globals: { process: "readonly", console: "readonly", setTimeout: "readonly", clearTimeout: "readonly" } },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-empty-object-type": "off",
      "@nx/enforce-module-boundaries": ["error", boundaries(false)],
      "no-restricted-imports": privateInternals()
    }
  },
  {
    files: ["**/*.test.ts", "**/test/**/*.ts"],
    rules: { "@nx/enforce-module-boundaries": ["error", boundaries(true)] }
  },
  {
    // The testing convention (README, Tests): tests import vitest through @effect/vitest and live in
    // test/, never src/.
    files: ["**/*.test.ts", "**/test/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { paths: [{ name: "vitest", message: "import from @effect/vitest (README, Tests)" }] }] }
  },
  {
    files: ["**/src/**/*.test.ts"],
    rules: { "no-restricted-syntax": ["error", { selector: "Program", message: "tests live in the project's test/ folder, not in src/ (README, Tests)" }] }
  },
  {
    files: ["bench/**/*.ts"],
    rules: { "no-restricted-imports": privateInternals(true) }
  },
  {
    // Test configs share one root file outside any project.
    files: ["**/vitest.config.ts"],
    rules: { "@nx/enforce-module-boundaries": "off" }
  }
)
