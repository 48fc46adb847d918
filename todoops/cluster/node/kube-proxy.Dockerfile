# kube-proxy under the ref kubeadm deploys, with the iptables it drives.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -qy --no-install-recommends iptables conntrack kmod \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
# kube-proxy must use the iptables backend the node uses (legacy or nft).
COPY iptables-wrapper /usr/sbin/iptables-wrapper
RUN chmod 0755 /usr/sbin/iptables-wrapper \
    && for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do \
        ln -sf /usr/sbin/iptables-wrapper "/usr/sbin/$tool"; done
COPY kube-proxy /usr/local/bin/kube-proxy
