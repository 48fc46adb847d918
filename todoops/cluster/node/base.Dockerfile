# The base of a kind node image, from Debian packages only (`invoke cluster.image`).
# `invoke cluster.image` then adds the Kubernetes binaries and pre-imports the
# component images. Built with the legacy builder: no BuildKit-only syntax.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# What systemd, containerd, the kubelet, kube-proxy's host side and our CNI need.
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -qy --no-install-recommends \
        systemd systemd-sysv dbus \
        conntrack iptables nftables iproute2 ethtool socat util-linux mount kmod ebtables \
        libseccomp2 pigz ca-certificates jq procps \
        containerd runc containernetworking-plugins \
    && apt-get clean && rm -rf /var/lib/apt/lists/*

# A container boots no hardware: drop the units that would only fail or wait,
# and keep the kernel log out of the journal.
RUN find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \
    && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
        /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
        /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \
    && echo "ReadKMsg=no" >>/etc/systemd/journald.conf

COPY files/ /
# containerd's runc is the wrapper; it calls Debian's runc (REAL_RUNC default).
COPY runc-shim /usr/local/sbin/runc
RUN chmod 0755 /usr/local/sbin/runc /usr/local/bin/entrypoint /usr/local/bin/kubelet-cgroups \
    && ctr oci spec | jq 'del(.process.rlimits)' >/etc/containerd/cri-base.json \
    && systemctl enable containerd.service kubelet.service \
    && systemctl mask systemd-binfmt.service \
    && mkdir -p /etc/kubernetes/manifests /etc/cni/net.d /etc/containerd/certs.d

# systemd needs to know it runs in a container, and stops on SIGRTMIN+3.
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
