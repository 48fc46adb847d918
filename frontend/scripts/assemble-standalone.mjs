// Next's standalone output leaves out the static assets and public/ so that a
// CDN can serve them. We serve them from the same server, so copy them in once
// here; the Dockerfile and the e2e test then both run .next/standalone as is.
import { cpSync, existsSync } from "node:fs";

const standalone = ".next/standalone";
if (!existsSync(standalone)) {
  console.error(`${standalone} is missing: run "next build" first`);
  process.exit(1);
}
cpSync(".next/static", `${standalone}/.next/static`, { recursive: true });
if (existsSync("public")) cpSync("public", `${standalone}/public`, { recursive: true });
