import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // A self-contained server (server.js + the node_modules it traces) is what
  // the runtime image ships; nothing else from the build stage is copied.
  output: "standalone",
  poweredByHeader: false,
  // A strict script CSP would need per-request nonces for Next's inline
  // scripts; these cover framing and sniffing for every response.
  async headers() {
    return [
      {
        source: "/:path*",
        headers: [
          { key: "Content-Security-Policy", value: "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'" },
          { key: "X-Content-Type-Options", value: "nosniff" },
          { key: "Referrer-Policy", value: "same-origin" },
        ],
      },
    ];
  },
  // next/image optimisation would pull in sharp (tens of MB) for an app
  // without raster images.
  images: { unoptimized: true },
  // Traced but never loaded by the standalone server: sharp (only used for
  // image optimisation, off above) and typescript (next.config.ts is inlined
  // into server.js at build time). Leaving them out saves about 28 MB.
  outputFileTracingExcludes: {
    "*": ["node_modules/@img/**", "node_modules/sharp/**", "node_modules/typescript/**"],
  },
};

export default nextConfig;
