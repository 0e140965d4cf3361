// Runs the Khronos glTF validator (npm package gltf-validator) on GLB bytes read from stdin and
// prints one compact JSON object on stdout. Used by bridge/conversion/validator.py.
// Usage: NODE_PATH=<node_modules> node validate.cjs <maxMessages>
// Every issue is counted; only the first <maxMessages> messages (errors first) are printed.
// Exit codes: 0 report printed; 2 the validator refused the bytes (format not detected);
// 3 gltf-validator could not be loaded (run `make setup` / `npm ci`).
"use strict";

let validator;
try {
  validator = require("gltf-validator");
} catch (err) {
  process.stderr.write(`gltf-validator not found: ${err.message}\n`);
  process.exit(3);
}

const maxMessages = Number.parseInt(process.argv[2] || "100", 10);
const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("end", () => {
  const data = new Uint8Array(Buffer.concat(chunks));
  validator
    .validateBytes(data, {
      maxIssues: 0, // 0 = unlimited: the counts must be exact
      format: "glb",
      externalResourceFunction: (uri) => Promise.reject(`external resource not allowed: ${uri}`),
    })
    .then((report) => {
      const issues = report.issues || {};
      const all = issues.messages || [];
      const ordered = all.filter((m) => m.severity === 0).concat(all.filter((m) => m.severity !== 0));
      const messages = ordered.slice(0, maxMessages).map((m) => ({
        code: m.code,
        severity: m.severity,
        pointer: m.pointer || m.offset || "",
        message: m.message,
      }));
      process.stdout.write(
        JSON.stringify({
          numErrors: issues.numErrors || 0,
          numWarnings: issues.numWarnings || 0,
          numInfos: issues.numInfos || 0,
          numHints: issues.numHints || 0,
          truncated: Boolean(issues.truncated) || ordered.length > maxMessages,
          messages,
        }),
      );
    })
    .catch((err) => {
      process.stderr.write(`validator refused the input: ${err}\n`);
      process.exit(2);
    });
});
