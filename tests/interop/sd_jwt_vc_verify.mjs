// An independent verifier of mmmfed's identity presentations and status lists (issue 17, "Done
// when"): npm @sd-jwt/sd-jwt-vc and @sd-jwt/jwt-status-list 0.19 with node:crypto, sharing no code
// with mmmfed. It reads files only.
//
// Input (stdin, JSON): {"presentation": path, "jwks": path, "status_list": path, "nonce": s,
//   "audience": s, "now_s": n, "required": [claim names]}
// Output (stdout, JSON): {"ok": true, "claims": {...disclosed and plain claims}, "kb": {...},
//   "status": n} or {"ok": false, "error": "..."}.
import { createHash, createPublicKey, verify } from "node:crypto";
import { readFileSync } from "node:fs";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { getListFromStatusListJWT } from "@sd-jwt/jwt-status-list";

const request = JSON.parse(readFileSync(0, "utf8"));
const jwks = JSON.parse(readFileSync(request.jwks, "utf8"));
const presentation = readFileSync(request.presentation, "utf8").trim();
const statusListJwt = readFileSync(request.status_list, "utf8").trim();

const b64json = (part) => JSON.parse(Buffer.from(part, "base64url").toString("utf8"));

function ed25519(jwk, data, sig) {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") return false;
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
  return verify(null, Buffer.from(data, "ascii"), key, Buffer.from(sig, "base64url"));
}

// The issuer's key is the JWK Set entry the JWS header's kid names, and the header says Ed25519.
function issuerVerifier(data, sig) {
  const header = b64json(data.split(".")[0]);
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  return Boolean(jwk) && header.alg === "Ed25519" && ed25519(jwk, data, sig);
}

const sdjwt = new SDJwtVcInstance({
  hasher: (data, alg) => {
    if (alg !== "sha-256") throw new Error(`hash ${alg}`);
    return new Uint8Array(createHash("sha256").update(data).digest());
  },
  verifier: issuerVerifier,
  kbVerifier: (data, sig, payload) => ed25519(payload.cnf.jwk, data, sig),
  statusListFetcher: async () => statusListJwt,
});

try {
  const result = await sdjwt.verify(presentation, {
    keyBindingNonce: request.nonce,
    currentDate: request.now_s,
    requiredClaimKeys: request.required ?? [],
  });
  if (!result.kb || result.kb.payload.aud !== request.audience) {
    throw new Error(`KB-JWT aud ${result.kb?.payload.aud} is not ${request.audience}`);
  }
  const ref = result.payload.status.status_list;
  const status = getListFromStatusListJWT(statusListJwt).getStatus(ref.idx);
  process.stdout.write(JSON.stringify({ ok: true, claims: result.payload, kb: result.kb.payload, status }));
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.message ? err.message : err) }));
}
