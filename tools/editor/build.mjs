// Builds static/vendor/codemirror/editor.bundle.js (one minified IIFE that sets
// window.SagaEditor) and LICENSES.txt beside it. Run with `make editor`.
import { build } from "esbuild";
import { mkdirSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(here, "../../static/vendor/codemirror");
const outFile = join(outDir, "editor.bundle.js");

function pkg(dir) {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
}

const esbuildVersion = pkg(join(here, "node_modules", "esbuild")).version;

mkdirSync(outDir, { recursive: true });
const result = await build({
  entryPoints: [join(here, "editor.js")],
  bundle: true,
  minify: true,
  format: "iife",
  globalName: "SagaEditor",
  target: ["es2020"],
  outfile: outFile,
  write: false,
  metafile: true,
  legalComments: "none",
});

// The license of every package that ended up in the bundle.
const packages = new Set();
const [output] = Object.values(result.metafile.outputs);
for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
  if (!bytesInOutput) continue;
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
const notices = [];
const versions = [];
for (const name of [...packages].sort()) {
  const dir = join(here, "node_modules", name);
  const meta = pkg(dir);
  versions.push(`${name}@${meta.version}`);
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  const text = file ? readFileSync(join(dir, file), "utf8").trim() : `License: ${meta.license}`;
  notices.push(`${name}@${meta.version} (${meta.license})\n\n${text}\n`);
}
writeFileSync(
  join(outDir, "LICENSES.txt"),
  "Packages bundled into editor.bundle.js\n\n" + notices.join("\n" + "-".repeat(72) + "\n\n")
);
const header =
  "/* Saga School code editor: CodeMirror 6, built from tools/editor by `make editor` " +
  `(esbuild ${esbuildVersion}). Bundled: ${versions.join(", ")}. ` +
  "All MIT licensed; see LICENSES.txt beside this file. */\n";
const code = header + result.outputFiles[0].text;
writeFileSync(outFile, code);
console.log(`${outFile}: ${Buffer.byteLength(code)} bytes, ${packages.size} packages`);
