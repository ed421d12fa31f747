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
      "@nx/enforce-module-boundaries": ["error", boundaries(false)]
    }
  },
  {
    files: ["**/*.test.ts", "**/test/**/*.ts"],
    rules: { "@nx/enforce-module-boundaries": ["error", boundaries(true)] }
  },
  {
    // Test configs share one root file outside any project.
    files: ["**/vitest.config.ts"],
    rules: { "@nx/enforce-module-boundaries": "off" }
  }
)
