# The kubelet's sandbox ("pause") image: a static init that only waits.
FROM scratch
COPY catatonit /pause
ENTRYPOINT ["/pause", "-P"]
