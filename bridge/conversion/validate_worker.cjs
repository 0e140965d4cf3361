// A long-lived Khronos glTF validator (npm package gltf-validator) for the bridge's Conversion
// Service: one Node.js process validates GLB after GLB, so no validation pays Node's start-up.
// Used by bridge/conversion/validator.py (GltfValidator.validate).
// Usage: NODE_PATH=<node_modules> node validate_worker.cjs <maxMessages>
// Protocol, both ways: frames of a 4-byte big-endian length followed by that many bytes.
//   request:  the GLB bytes (one validation per frame, answered in order);
//   response: a UTF-8 JSON object, one of
//     {"report": {numErrors, numWarnings, numInfos, numHints, truncated, messages}}
//     {"refused": "<why the validator refused the bytes (format not detected)>"}
// On start, if gltf-validator cannot be loaded, writes {"unavailable": "<why>"} (and the reason on
// stderr) and exits 3.
// Exits 0 when stdin ends (the bridge closed it or died).
"use strict";

function send(value) {
  const body = Buffer.from(JSON.stringify(value), "utf8");
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length, 0);
  process.stdout.write(Buffer.concat([header, body]));
}

let validator;
try {
  validator = require("gltf-validator");
} catch (err) {
  const reason = `gltf-validator not found: ${String(err.message).split("\n")[0]}`;
  process.stderr.write(`${reason}\n`);
  send({ unavailable: reason });
  process.exitCode = 3;
  return;
}

const maxMessages = Number.parseInt(process.argv[2] || "100", 10);

function summary(report) {
  const issues = report.issues || {};
  const all = issues.messages || [];
  const ordered = all.filter((m) => m.severity === 0).concat(all.filter((m) => m.severity !== 0));
  return {
    numErrors: issues.numErrors || 0,
    numWarnings: issues.numWarnings || 0,
    numInfos: issues.numInfos || 0,
    numHints: issues.numHints || 0,
    truncated: Boolean(issues.truncated) || ordered.length > maxMessages,
    messages: ordered.slice(0, maxMessages).map((m) => ({
      code: m.code,
      severity: m.severity,
      pointer: m.pointer || m.offset || "",
      message: m.message,
    })),
  };
}

// Received bytes not yet consumed, kept as chunks and joined once per frame (a GLB of several MB
// arrives in many 64 KiB chunks; joining on every chunk would copy it over and over).
let chunks = [];
let buffered = 0;
let busy = false;

function nextFrame() {
  if (buffered < 4) return null;
  if (chunks[0].length < 4) chunks = [Buffer.concat(chunks, buffered)];
  const length = chunks[0].readUInt32BE(0);
  if (buffered < 4 + length) return null;
  const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, buffered);
  const rest = all.subarray(4 + length);
  chunks = rest.length ? [rest] : [];
  buffered = rest.length;
  return new Uint8Array(all.buffer, all.byteOffset + 4, length);
}

async function drain() {
  if (busy) return;
  busy = true;
  for (let data = nextFrame(); data !== null; data = nextFrame()) {
    try {
      const report = await validator.validateBytes(data, {
        maxIssues: 0, // 0 = unlimited: the counts must be exact
        format: "glb",
        externalResourceFunction: (uri) => Promise.reject(`external resource not allowed: ${uri}`),
      });
      send({ report: summary(report) });
    } catch (err) {
      send({ refused: String(err) });
    }
  }
  busy = false;
}

process.stdin.on("data", (chunk) => {
  chunks.push(chunk);
  buffered += chunk.length;
  drain();
});
process.stdin.on("end", () => {
  process.exitCode = 0;
});
