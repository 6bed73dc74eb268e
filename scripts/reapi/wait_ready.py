#!/usr/bin/env python3
"""Exit 0 once BuildGrid at ADDR reports SERVING for the Execution service (gRPC health), else 1.
Usage: wait_ready.py ADDR [TIMEOUT_S]"""
import sys, time, grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

addr = sys.argv[1]
deadline = time.monotonic() + float(sys.argv[2] if len(sys.argv) > 2 else 60)
ch = grpc.insecure_channel(addr)
stub = health_pb2_grpc.HealthStub(ch)
while time.monotonic() < deadline:
    try:
        r = stub.Check(health_pb2.HealthCheckRequest(
            service="build.bazel.remote.execution.v2.Execution"), timeout=1)
        if r.status == health_pb2.HealthCheckResponse.SERVING:
            sys.exit(0)
    except grpc.RpcError:
        pass
    time.sleep(0.1)
sys.exit(1)
