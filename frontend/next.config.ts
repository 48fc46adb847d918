import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // A self-contained server (server.js + the node_modules it traces) is what
  // the runtime image ships; nothing else from the build stage is copied.
  output: "standalone",
  poweredByHeader: false,
  // next/image optimisation would pull in sharp (tens of MB) for an app
  // without raster images.
  images: { unoptimized: true },
};

export default nextConfig;
