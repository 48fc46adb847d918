import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // A self-contained server (server.js + the node_modules it traces) is what
  // the runtime image ships; nothing else from the build stage is copied.
  output: "standalone",
  poweredByHeader: false,
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
