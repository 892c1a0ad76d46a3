"""Exit 0 when the Kafka broker at HOST:PORT answers a metadata request, else 1.

Usage: python ready.py HOST:PORT [TIMEOUT_SECONDS]

Uses kafka-python's KafkaAdminClient.list_topics() when kafka-python is importable
(the project venv); otherwise sends one raw Metadata v4 request (stdlib only), so the
check also works on a machine where the venv does not exist yet.
"""

import logging
import socket
import struct
import sys


def via_kafka_python(bootstrap: str, timeout: float) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap,
        client_id="newsflow-ready",
        request_timeout_ms=int(timeout * 1000),
        bootstrap_timeout_ms=int(timeout * 1000),
    )
    try:
        admin.list_topics()
    finally:
        admin.close()


def via_raw_socket(bootstrap: str, timeout: float) -> None:
    host, port = bootstrap.rsplit(":", 1)
    client_id = b"newsflow-ready"
    # Request header v1 (api_key=3 Metadata, version 4, correlation id, client id),
    # body: topics=null (all), allow_auto_topic_creation=false.
    req = struct.pack(">hhih", 3, 4, 7, len(client_id)) + client_id + struct.pack(">i?", -1, False)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(req)) + req)
        size = struct.unpack(">i", recv_exact(sock, 4))[0]
        resp = recv_exact(sock, size)
    correlation_id, _throttle_ms, n_brokers = struct.unpack_from(">iii", resp)
    if correlation_id != 7 or n_brokers < 1:
        raise RuntimeError(f"unexpected metadata response ({correlation_id=}, {n_brokers=})")


def recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return buf


def main() -> int:
    bootstrap = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 5.0
    logging.disable(logging.CRITICAL)  # kafka-python logs every refused connection
    try:
        import kafka  # noqa: F401
    except ImportError:
        check = via_raw_socket
    else:
        check = via_kafka_python
    try:
        check(bootstrap, timeout)
    except Exception as exc:  # any failure just means "not ready (yet)"
        print(f"not ready: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
