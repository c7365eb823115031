import path from "node:path";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

const webDir = import.meta.dirname;
const genDir = path.resolve(webDir, "../gen/ts");

// The generated clients live in ../gen/ts, outside this package: their imports of
// @bufbuild/protobuf are resolved from web/node_modules, as if web/src imported them.
function genImports(): Plugin {
  return {
    name: "llmgw-gen-imports",
    enforce: "pre",
    async resolveId(source, importer) {
      if (importer?.startsWith(genDir) && source.startsWith("@bufbuild/")) {
        return this.resolve(source, path.join(webDir, "src/main.tsx"), { skipSelf: true });
      }
      return null;
    },
  };
}

export default defineConfig({
  base: "/ui/",
  plugins: [genImports(), react()],
  resolve: { alias: { "@gen": genDir } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // No inline scripts or data: URLs for code: the gateway's CSP forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev` against a gateway on :8080 (make run).
    proxy: {
      "/llmgw.": "http://127.0.0.1:8080",
      "/v1": "http://127.0.0.1:8080",
    },
    fs: { allow: [webDir, genDir] },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
