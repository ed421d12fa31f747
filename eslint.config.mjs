import js from "@eslint/js"
import nx from "@nx/eslint-plugin"
import tseslint from "typescript-eslint"

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
      // Apps are thin and never import each other; pure libs (domain, workflow) never reach
      // an adapter, so the order workflow stays testable without a broker.
      "@nx/enforce-module-boundaries": [
        "error",
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            { sourceTag: "type:app", onlyDependOnLibsWithTags: ["type:lib"] },
            { sourceTag: "type:bench", onlyDependOnLibsWithTags: ["type:lib"] },
            { sourceTag: "kind:pure", onlyDependOnLibsWithTags: ["kind:pure"] },
            { sourceTag: "kind:runtime", onlyDependOnLibsWithTags: ["kind:pure", "kind:runtime"] },
            { sourceTag: "kind:adapter", onlyDependOnLibsWithTags: ["kind:pure", "kind:runtime", "kind:adapter"] },
            { sourceTag: "kind:testing", onlyDependOnLibsWithTags: ["kind:pure", "kind:runtime", "kind:adapter", "kind:testing"] }
          ]
        }
      ]
    }
  }
,
  {
    // Test configs share one root file outside any project.
    files: ["**/vitest.config.ts"],
    rules: { "@nx/enforce-module-boundaries": "off" }
  }
)
