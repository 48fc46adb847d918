// A session token that has run out, for the "expired session" case.
import { createHmac } from "node:crypto";

const base64url = (value) => Buffer.from(value).toString("base64url");

/**
 * Re-signs the token's claims with an expiry in the past when the secret is
 * known (a stack this test started); otherwise breaks the signature, which the
 * backend rejects the same way (401 not_authenticated).
 */
export function expiredToken(token, secret) {
  const [header, payload] = token.split(".");
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  const now = Math.floor(Date.now() / 1000);
  const expiredPayload = base64url(JSON.stringify({ ...claims, iat: now - 7200, exp: now - 3600 }));
  const signingInput = `${header}.${expiredPayload}`;
  const signature = secret ? createHmac("sha256", secret).update(signingInput).digest("base64url") : "invalid";
  return `${signingInput}.${signature}`;
}
