// An independent eddsa-jcs-2022 implementation (W3C vc-di-eddsa 3.3, VC-DI 4.3/4.5) for the
// interoperability test: RFC 8785 JCS by npm `canonicalize`, SHA-256 and SHA-512 by node:crypto,
// Ed25519 by npm `@noble/ed25519` (strict branch, zip215: false); base58btc and did:key written
// here. It shares no code with mmmfed.
//
// ES module because both packages are ESM-only (`canonicalize` >= 3, `@noble/ed25519` >= 2). ESM
// ignores NODE_PATH: the bare imports resolve from this file upwards, i.e. the repository's
// node_modules that `make setup` (npm ci) fills.
//
// stdin: one request, or a JSON array of requests (answered by an array, in order):
//   {"op": "verify", "document": {...}, "keys": {vm: "z6Mk..."}?}
//       -> {"verified": bool, "reason": str, "reasons": [str per proof]}
//   {"op": "sign", "document": {...}, "seed_hex": "...", "created": "...",
//    "proof_id"?: str, "previous_proof"?: str | [str], "proof_purpose"?: str}
//       -> the signed document (proof appended to a set if one is there)
//   {"op": "canonicalize", "value": any} -> {"canonical": str} or {"error": str}
// Reasons use mmmfed's names where the meaning is the same (VERIFIED, SIGNATURE_INVALID, ...).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";

import * as ed from "@noble/ed25519";
import canonicalize from "canonicalize";

ed.hashes.sha512 = (message) => new Uint8Array(createHash("sha512").update(message).digest());

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const ED25519_PUB = [0xed, 0x01];

class Failure extends Error {}

function base58Encode(bytes) {
  let n = 0n;
  for (const b of bytes) n = n * 256n + BigInt(b);
  let text = "";
  while (n > 0n) {
    text = ALPHABET[Number(n % 58n)] + text;
    n /= 58n;
  }
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  return "1".repeat(zeros) + text;
}

function base58Decode(text, reason) {
  if (text.length === 0 || text.length > 512) throw new Failure(reason);
  let n = 0n;
  for (const c of text) {
    const digit = ALPHABET.indexOf(c);
    if (digit < 0) throw new Failure(reason);
    n = n * 58n + BigInt(digit);
  }
  const body = [];
  for (; n > 0n; n >>= 8n) body.unshift(Number(n & 0xffn));
  let zeros = 0;
  while (text[zeros] === "1") zeros++;
  return Uint8Array.from([...new Array(zeros).fill(0), ...body]);
}

function multibaseDecode(text, reason) {
  if (typeof text !== "string" || !text.startsWith("z")) throw new Failure(reason);
  return base58Decode(text.slice(1), reason);
}

// did:key:<id> or did:key:<id>#<id> -> 32-byte Ed25519 public key (multicodec 0xed01).
function didKeyPublicKey(vm) {
  const match = /^did:key:([^#]+)(?:#(.*))?$/.exec(vm);
  if (!match || (match[2] !== undefined && match[2] !== match[1])) throw new Failure("KEY_UNRESOLVED");
  return multikeyPublicKey(match[1]);
}

function multikeyPublicKey(multibase) {
  const raw = multibaseDecode(multibase, "KEY_UNRESOLVED");
  if (raw.length !== 34 || raw[0] !== ED25519_PUB[0] || raw[1] !== ED25519_PUB[1]) throw new Failure("KEY_UNRESOLVED");
  return raw.subarray(2);
}

function jcs(value) {
  try {
    return canonicalize(value);
  } catch {
    throw new Failure("NOT_CANONICALIZABLE");
  }
}

const sha256 = (text) => createHash("sha256").update(text, "utf8").digest();

// vc-di-eddsa 3.3.4: SHA-256(JCS(proof config)) || SHA-256(JCS(document)).
const hashData = (document, config) => Buffer.concat([sha256(jcs(config)), sha256(jcs(document))]);

const proofList = (proof) => (Array.isArray(proof) ? proof : proof === undefined ? [] : [proof]);

function previousIds(value) {
  const ids = typeof value === "string" ? [value] : value;
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((i) => typeof i === "string" && i)) {
    throw new Failure("PROOF_MALFORMED");
  }
  return ids;
}

// What a proof covers: the document without `proof`, or (VC-DI 4.3 step 6) with `proof` = the
// proofs named in previousProof, in set order.
function unsecuredFor(document, allProofs, previousProof) {
  const { proof: _ignored, ...unsecured } = document;
  if (previousProof !== undefined) {
    const ids = previousIds(previousProof);
    const found = new Set(allProofs.map((p) => p.id));
    if (!ids.every((i) => found.has(i))) throw new Failure("PREVIOUS_PROOF_MISSING");
    unsecured.proof = allProofs.filter((p) => ids.includes(p.id));
  }
  return unsecured;
}

function startsWith(documentContext, proofContext) {
  if (documentContext === undefined) return false;
  const doc = Array.isArray(documentContext) ? documentContext : [documentContext];
  const mine = Array.isArray(proofContext) ? proofContext : [proofContext];
  return mine.length <= doc.length && mine.every((c, i) => jcs(c) === jcs(doc[i]));
}

function verifyOne(proof, document, allProofs, keys) {
  if (proof === null || typeof proof !== "object" || Array.isArray(proof)) throw new Failure("PROOF_MALFORMED");
  if (proof.type !== "DataIntegrityProof" || proof.cryptosuite !== "eddsa-jcs-2022") {
    throw new Failure("CRYPTOSUITE_UNSUPPORTED");
  }
  const { proofValue, ...config } = proof;
  if (typeof config.verificationMethod !== "string" || typeof config.proofPurpose !== "string") {
    throw new Failure("PROOF_MALFORMED");
  }
  const signature = multibaseDecode(proofValue, "PROOF_MALFORMED");
  if (signature.length !== 64) throw new Failure("PROOF_MALFORMED");
  const unsecured = unsecuredFor(document, allProofs, config.previousProof);
  if ("@context" in config) {
    if (!startsWith(document["@context"], config["@context"])) throw new Failure("PROOF_CONTEXT_MISMATCH");
    unsecured["@context"] = config["@context"];
  }
  const message = hashData(unsecured, config);
  const vm = config.verificationMethod;
  const publicKey = keys[vm] !== undefined ? multikeyPublicKey(keys[vm]) : didKeyPublicKey(vm);
  if (!ed.verify(signature, message, publicKey, { zip215: false })) throw new Failure("SIGNATURE_INVALID");
}

function reasonOf(run) {
  try {
    run();
    return "VERIFIED";
  } catch (err) {
    if (err instanceof Failure) return err.message;
    throw err;
  }
}

function verify({ document, keys = {} }) {
  if (document === null || typeof document !== "object" || Array.isArray(document)) {
    return { verified: false, reason: "DOCUMENT_MALFORMED", reasons: [] };
  }
  const all = proofList(document.proof);
  if (all.length === 0) return { verified: false, reason: "PROOF_MISSING", reasons: [] };
  const own = all.map((proof) => reasonOf(() => verifyOne(proof, document, all, keys)));
  // VC-DI 4.5: a proof holds only if every proof it names, transitively, holds too.
  const holds = (i, path) => {
    if (own[i] !== "VERIFIED") return own[i];
    if (all[i].previousProof === undefined) return "VERIFIED";
    for (const j of all.keys()) {
      if (!previousIds(all[i].previousProof).includes(all[j].id)) continue;
      if (path.has(j)) return "PROOF_CHAIN_CYCLE";
      if (holds(j, new Set([...path, j])) !== "VERIFIED") return "PREVIOUS_PROOF_INVALID";
    }
    return "VERIFIED";
  };
  const reasons = own.map((_, i) => holds(i, new Set([i])));
  const failed = reasons.find((r) => r !== "VERIFIED");
  return { verified: failed === undefined, reason: failed ?? "VERIFIED", reasons };
}

// vc-di-eddsa 3.3.1 Create Proof.
function sign({ document, seed_hex, created, proof_id, previous_proof, proof_purpose = "assertionMethod" }) {
  const seed = Uint8Array.from(Buffer.from(seed_hex, "hex"));
  const multikey = "z" + base58Encode(Uint8Array.from([...ED25519_PUB, ...ed.getPublicKey(seed)]));
  const existing = proofList(document.proof);
  const config = { type: "DataIntegrityProof", cryptosuite: "eddsa-jcs-2022", created };
  if (proof_id !== undefined) config.id = proof_id;
  Object.assign(config, { verificationMethod: `did:key:${multikey}#${multikey}`, proofPurpose: proof_purpose });
  if (previous_proof !== undefined) config.previousProof = previous_proof;
  const unsecured = unsecuredFor(document, existing, previous_proof);
  if ("@context" in document) config["@context"] = document["@context"];
  const proofValue = "z" + base58Encode(ed.sign(hashData(unsecured, config), seed));
  const { proof: _ignored, ...signed } = document;
  const proof = { ...config, proofValue };
  signed.proof = existing.length > 0 ? [...existing, proof] : proof;
  return signed;
}

function handle(request) {
  switch (request.op) {
    case "verify":
      return verify(request);
    case "sign":
      return sign(request);
    case "canonicalize":
      try {
        return { canonical: canonicalize(request.value) };
      } catch (err) {
        return { error: String(err.message) };
      }
    default:
      throw new Error(`unknown op ${JSON.stringify(request.op)}`);
  }
}

const input = JSON.parse(readFileSync(0, "utf8"));
const output = Array.isArray(input) ? input.map(handle) : handle(input);
process.stdout.write(JSON.stringify(output));
