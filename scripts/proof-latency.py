"""Latency of Merkle proofs over HTTP (keep-alive, one client): mean, p50, p99, max.

Usage (a 1M-record store, then the release server on it):
    cargo run --release -p govrec-bench --bin merkle-bench -- 1000000 /tmp/m1
    T=$(cargo run -q --release -- token create --role auditor --data /tmp/m1)
    cargo run --release -- serve --data /tmp/m1 --addr 127.0.0.1:18181 &
    python3 scripts/proof-latency.py 18181 "$T" 1000005
The figures include this client's own time (about 0.18 ms a request for /healthz here).
"""
import http.client, json, random, sys, time
port, token, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
conn = http.client.HTTPConnection("127.0.0.1", port)
headers = {"Authorization": f"Bearer {token}"}
def timed(path):
    start = time.perf_counter()
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    assert response.status == 200, (path, response.status, body[:200])
    return elapsed
random.seed(7)
for name, make in [
    ("inclusion", lambda: f"/v1/audit/proof/inclusion?seq={random.randrange(size)}&size={size}"),
    ("consistency", lambda: f"/v1/audit/proof/consistency?from_size={random.randrange(1, size)}&to_size={size}"),
]:
    for _ in range(100):
        timed(make())
    samples = sorted(timed(make()) for _ in range(2000))
    ms = [s * 1000 for s in samples]
    print(f"{name} proof over HTTP at {size} records, 2000 requests: mean {sum(ms)/len(ms):.3f} ms, "
          f"p50 {ms[len(ms)//2]:.3f} ms, p99 {ms[int(len(ms)*0.99)]:.3f} ms, max {ms[-1]:.3f} ms")
