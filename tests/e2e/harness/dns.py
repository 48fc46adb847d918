"""A one-question DNS client, so the harness can check CoreDNS without dig or extra packages."""

import secrets
import socket
import struct

TYPE_A = 1
CLASS_IN = 1


def query_packet(name: str, query_id: int) -> bytes:
    header = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0)  # recursion desired, one question
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.rstrip(".").split("."))
    return header + labels + b"\0" + struct.pack(">HH", TYPE_A, CLASS_IN)


def answer_count(response: bytes, query_id: int) -> int:
    """Answers in a NOERROR response to our query; 0 for errors or a foreign packet."""
    response_id, flags, _, answers = struct.unpack(">HHHH", response[:8])
    return answers if response_id == query_id and flags & 0x000F == 0 else 0


def resolves(server: str, name: str, timeout: float = 2.0) -> bool:
    query_id = secrets.randbelow(0x10000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(timeout)
        try:
            udp.sendto(query_packet(name, query_id), (server, 53))
            return answer_count(udp.recv(512), query_id) > 0
        except OSError:
            return False
