// A Node.js client of mmmfed for the interoperability test (issue 6, item 3): npm @grpc/grpc-js and
// @grpc/proto-loader, loading only the .proto files under proto/ (no code generated from them and none of
// mmmfed's), over mutual TLS. It shares no code with mmmfed.
//
// ES module; the bare imports resolve from this file upwards, i.e. the repository's node_modules that
// `make setup` (npm ci) fills.
//
//   node node_client.mjs --address HOST:PORT --tls-name NAME --ca CA.pem --cert CERT.pem --key KEY.pem OP [ARG]
//
// The server must present a certificate for NAME (grpc.ssl_target_name_override: we dial an address).
// OP:
//   negotiate PEER  PlatformGateway.Negotiate (RI-5) with PEER: the gateway exchanges manifestos with
//                   PEER's gateway over RE-5 (FGMV-43 9.5). Prints {offer_a, offer_v, answer, agreement}.
//   exchange        As a peer gateway, over RE-5: Federation.GetManifesto, then Federation.OfferManifestos
//                   with the request read as JSON from stdin ({"offer_a": {...}, "offer_v": {...}}, proto
//                   field names). Prints {peer_manifesto, answer, agreement}.
// Manifestos print as proto-loader objects: proto field names, enums by name, 64-bit integers as
// strings, bytes as base64; agreement_json is printed parsed, as "agreement".
//
// Exit status: 0 with the result on stdout; 3 when the server refused the call, with
// {"code", "status", "details", "error_info": {"reason", "domain", "metadata"} | null} on stdout
// (ErrorInfo from the google.rpc.Status in the grpc-status-details-bin trailer); 2 on a usage error.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";

const PROTO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "proto");
const DEADLINE_MS = 20_000;

class Usage extends Error {}

function protoFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return protoFiles(path);
    return entry.name.endsWith(".proto") ? [path.slice(PROTO_DIR.length + 1)] : [];
  });
}

function loadApi() {
  const definition = protoLoader.loadSync(protoFiles(PROTO_DIR), {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    enums: String,
    bytes: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition).mmmfed.api.v1;
}

// google.rpc.Status -> its google.rpc.ErrorInfo, read from the protobuf wire format by hand (the
// google/rpc protos are not under proto/): Status{3: repeated Any}, Any{1: type_url, 2: value},
// ErrorInfo{1: reason, 2: domain, 3: map<string, string> metadata}.
function wireFields(buf) {
  const fields = [];
  let i = 0;
  const varint = () => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = buf[i++];
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const [number, wireType] = [Math.floor(tag / 8), tag % 8];
    if (wireType === 0) fields.push([number, varint()]);
    else if (wireType === 2) {
      const length = varint();
      fields.push([number, buf.subarray(i, i + length)]);
      i += length;
    } else if (wireType === 1 || wireType === 5) i += wireType === 1 ? 8 : 4;
    else throw new Error(`unexpected wire type ${wireType}`);
  }
  return fields;
}

function errorInfo(statusBytes) {
  for (const [number, any] of wireFields(statusBytes)) {
    if (number !== 3) continue;
    const parts = Object.fromEntries(wireFields(any));
    if (parts[1]?.toString() !== "type.googleapis.com/google.rpc.ErrorInfo") continue;
    const info = { reason: "", domain: "", metadata: {} };
    for (const [field, value] of wireFields(parts[2] ?? Buffer.alloc(0))) {
      if (field === 1) info.reason = value.toString();
      if (field === 2) info.domain = value.toString();
      if (field === 3) {
        const entry = Object.fromEntries(wireFields(value));
        info.metadata[entry[1]?.toString() ?? ""] = entry[2]?.toString() ?? "";
      }
    }
    return info;
  }
  return null;
}

function refusal(err) {
  const [details] = err.metadata?.get("grpc-status-details-bin") ?? [];
  return {
    code: err.code,
    status: grpc.status[err.code],
    details: err.details,
    error_info: details ? errorInfo(details) : null,
  };
}

function unary(client, method, request) {
  const deadline = new Date(Date.now() + DEADLINE_MS);
  return new Promise((ok, fail) => client[method](request, { deadline }, (err, res) => (err ? fail(err) : ok(res))));
}

function agreement(base64) {
  return JSON.parse(Buffer.from(base64, "base64").toString("utf8"));
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

async function run(api, values, op, arg) {
  const credentials = grpc.credentials.createSsl(
    readFileSync(values.ca),
    readFileSync(values.key),
    readFileSync(values.cert),
  );
  const options = { "grpc.ssl_target_name_override": values["tls-name"] };
  if (op === "negotiate") {
    const client = new api.PlatformGateway(values.address, credentials, options);
    try {
      const res = await unary(client, "Negotiate", { peer_m_instance_id: arg });
      const { offer_a, offer_v, answer } = res;
      return { offer_a, offer_v, answer, agreement: agreement(res.agreement_json) };
    } finally {
      client.close();
    }
  }
  const offers = await readStdin(); // exchange
  const client = new api.Federation(values.address, credentials, options);
  try {
    const peerManifesto = await unary(client, "GetManifesto", {});
    const res = await unary(client, "OfferManifestos", offers);
    return { peer_manifesto: peerManifesto, answer: res.answer, agreement: agreement(res.agreement_json) };
  } finally {
    client.close();
  }
}

function parse() {
  const flags = ["address", "tls-name", "ca", "cert", "key"];
  const options = Object.fromEntries(flags.map((f) => [f, { type: "string" }]));
  const { values, positionals } = parseArgs({ options, allowPositionals: true });
  const missing = flags.filter((f) => !values[f]);
  if (missing.length) throw new Usage(`missing --${missing.join(", --")}`);
  const [op, arg] = positionals;
  if (op === "negotiate" && !arg) throw new Usage("negotiate needs the peer M-Instance id");
  if (op !== "negotiate" && op !== "exchange") throw new Usage(`unknown operation ${op}: negotiate PEER | exchange`);
  return { values, op, arg };
}

async function main() {
  let args;
  try {
    args = parse();
  } catch (err) {
    process.stderr.write(`usage error: ${err.message}\n`);
    return 2;
  }
  try {
    const result = await run(loadApi(), args.values, args.op, args.arg);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (err) {
    if (typeof err.code !== "number" || !(err.code in grpc.status)) throw err;
    process.stdout.write(`${JSON.stringify(refusal(err))}\n`);
    return 3;
  }
}

process.exitCode = await main();
