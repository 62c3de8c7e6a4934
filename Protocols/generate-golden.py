#!/usr/bin/env python3
"""Writes the golden byte vectors of Straits' wire protocol (Protocols/golden/*.hex).

Independent of the Swift code on purpose: the tests decode these bytes with StraitsWire and
re-encode them, so a change on either side that alters the bytes on the wire fails a test.
Each .hex file holds one frame per line, in hex.
"""
import base64
import json
import pathlib
import struct
import zlib

HERE = pathlib.Path(__file__).parent / "golden"
MAGIC_CONTROL = 0x43525453  # "STRC"
MAGIC_DATA = 0x57525453  # "STRW"

CONTROL_TYPES = {"join": 1, "refuse": 2, "plan": 3, "probe": 4, "probed": 5, "step": 6,
                 "step_done": 7, "heartbeat": 8, "stop": 9,
                 "model_part": 10, "fault": 12, "inject": 13, "kill": 14}


def control(kind, body, version=1):
    envelope = struct.pack("<IHH", MAGIC_CONTROL, version, CONTROL_TYPES[kind])
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return [envelope, text.encode("utf-8")]


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def data_frame(source, step, collective, tag, offset, payload, checksum, dtype=1, length=None):
    flags = 1 if checksum else 0
    crc = crc32c(payload) if checksum else 0
    header = struct.pack("<IHBBIIQQQQQII", MAGIC_DATA, 1, 1, dtype, 7, source, step, collective, tag,
                         offset, len(payload) if length is None else length, crc, flags)
    assert len(header) == 64
    return [header, payload]


link = {"alpha_s": 0.0001, "beta_s_per_byte": 1e-09}
traffic = {"lan_rx_bytes": 1048640, "lan_tx_bytes": 1048640, "rejected_messages": 0,
           "wan_rx_bytes": {"eu-west": 524320}, "wan_tx_bytes": {"eu-west": 524320}}
vectors = {
    "control-join": control("join", {"devices": 2, "endpoints": ["tcp://10.0.0.5:40001", "tcp://10.0.0.5:40002"],
                                     "host": 1, "numa_nodes": 2, "pid": 4242, "region": "us-east"}),
    "control-join-v2": control("join", {"devices": 1, "endpoints": ["tcp://10.0.0.6:40001"], "host": 0,
                                        "numa_nodes": 1, "pid": 7, "region": "us-east"}, version=2),
    "control-refuse": control("refuse", {"reason": "peer speaks control protocol version 2, this build speaks version 1"}),
    "control-plan": control("plan", {
        "algo": "hier", "checksums": True, "chunk_bytes": 0, "devices_per_worker": 2, "epoch": 1, "lan": link,
        "max_bytes": 4194304, "regions": ["us-east", "eu-west"], "timeout_s": 60, "wan": link,
        "workers": [
            {"endpoints": ["tcp://10.0.0.5:40001", "tcp://10.0.0.5:40002"], "first_rank": 0, "host": 0, "region": 0, "worker": 0},
            {"endpoints": ["tcp://10.0.0.7:40001", "tcp://10.0.0.7:40002"], "first_rank": 2, "host": 0, "region": 1, "worker": 1},
        ],
        "you": 1}),
    "control-probe": control("probe", {"collective": 1, "lead": True, "peer_worker": 1}),
    "control-probed": control("probed", {"link": link, "peer_worker": 1}),
    "control-step": control("step", {"bytes": 4194304, "collective": 1008, "compute_s": 0.02, "step": 1}),
    "control-step-timer": control("step", {"approach_arrivals": False, "bytes": 1048576, "collective": 1016, "compute_s": 0, "step": 2}),
    "control-step-done": control("step_done", {
        "devices": [{"comm_s": 0.05, "compute_s": 0.02, "host_s": 0.01, "rank": 2, "region_s": 0.015, "sync_s": 0.003, "check_s": 0.002,
                     "wan_s": 0.025, "wrong": 0}],
        "plan": "hier: host shm×2, wan ring×2 chunk 1 MiB", "step": 1, "traffic": traffic}),
    "control-heartbeat": control("heartbeat", {"comm_s": 1.5, "compute_s": 0.5, "seq": 17, "steps_done": 3, "traffic": traffic}),
    "control-heartbeat-coordinator": control("heartbeat", {"seq": 18}),
    "control-join-gateway": control("join", {"devices": 0, "endpoints": ["", "tcp://10.0.0.9:41001"], "host": 0,
                                             "numa_nodes": 1, "pid": 99, "region": "us-east", "role": "gateway"}),
    "control-plan-gateways": control("plan", {
        "algo": "ring", "checksums": False, "chunk_bytes": 65536, "devices_per_worker": 1, "epoch": 1,
        "gateways": [{"endpoints": ["", "tcp://10.0.0.9:41001"], "region": 0}, {"endpoints": ["tcp://10.0.0.10:41001", ""], "region": 1}],
        "lan": link, "max_bytes": 1048576, "regions": ["us-east", "eu-west"], "timeout_s": 30, "wan": link,
        "workers": [{"endpoints": ["tcp://10.0.0.5:40001"], "first_rank": 0, "host": 0, "region": 0, "worker": 0},
                    {"endpoints": ["tcp://10.0.0.7:40001"], "first_rank": 1, "host": 0, "region": 1, "worker": 1}],
        "you": -1}),
    "control-heartbeat-gateway": control("heartbeat", {"seq": 3, "links": [{
        "busy_s": 0.5, "delivered_bytes": 6250000, "delivered_messages": 100, "late_max_us": 180, "late_p99_us": 42.5,
        "offered_bytes": 6315536, "queue_delay_s_max": 0.25, "queue_delay_s_sum": 3.5, "queued_bytes": 65536, "to": "eu-west"}]}),
    "control-stop": control("stop", {"ok": False, "reason": "worker eu-west/host 1 (pid 4243) sent nothing for 5.1 s"}),
    "data-frame": data_frame(3, 9, 1001, (2 << 56) | (1 << 32) | 5, 4096, bytes(range(16)), checksum=False),
    "control-step-train": control("step", {
        "bytes": 1454656, "collective": 1048600, "compute_s": 0, "step": 12,
        "train": {"buckets": [[232448, 131216], [0, 232448]], "gradients": "region", "index": 3, "outer": True,
                  "save": "model-diloco.bin", "schedule": 1}}),
    # The last part of a 20-byte file: bytes 16..19 of 0..19.
    "control-model-part": control("model_part", {
        "crc32c": crc32c(bytes(range(20))), "data": base64.b64encode(bytes(range(16, 20))).decode(),
        "file": "model-ddp.bin", "offset": 16, "total_bytes": 20}),
    "control-inject": control("inject", {"fault": "{ link: [us-east, eu-west], for: 3s, down: true }", "ok": True,
                                         "reason": "fault 0 scheduled in 0 s, for 3 s"}),
    "control-kill": control("kill", {"fault": 2, "reason": "fault 2 of the job: kill worker eu-west/1"}),
    # An attempt at a step after a membership change: epoch 3, a joiner's two ranks take rank 0's
    # state, and every rank reports its parameters' CRC32C. Then a DiLoCo step whose joiners
    # take the state of their region's survivor, or (a region that lost every worker) another
    # region's with the global parameters.
    "control-step-elastic": control("step", {
        "bytes": 1454656, "collective": 1048600, "compute_s": 0, "epoch": 3, "step": 25,
        "train": {"buckets": [[0, 363664]], "checksum": True, "gradients": "all", "index": 25, "outer": False,
                  "schedule": 0, "state": [{"from": 0, "to": [6, 7]}]}}),
    "control-step-elastic-diloco": control("step", {
        "bytes": 1454656, "collective": 1048600, "compute_s": 0, "epoch": 4, "step": 40,
        "train": {"buckets": [[0, 363664]], "checksum": True, "gradients": "region", "index": 40, "outer": False,
                  "schedule": 1, "state": [{"from": 2, "to": [3]}, {"from": 0, "global": True, "to": [4, 5]}]}}),
    "control-fault": control("fault", {"bandwidth_bps": 10000000, "latency_s": 0.12, "state": "degraded", "to": "eu-west"}),
    "control-step-done-train": control("step_done", {
        "devices": [{"check_s": 0, "comm_s": 0.2, "compute_s": 0.06, "emulated_s": 0.0597, "host_s": 0.01, "lan_bytes": 727584,
                     "loss": 0.25, "outer_s": 0.11, "parameters_checksum": 3735928559, "rank": 0, "region_s": 0.04, "sync_s": 0,
                     "wait_s": 0.15, "wan_bytes": 363792, "wan_s": 0.15, "wrong": 0}],
        "plan": "hier: host shm×2, region ring×2 chunk 355 KiB, wan rd×2 chunk 355 KiB", "step": 12, "traffic": traffic}),
    # Eight values in int8: one block, exponent -5 (scale 1/32), then the eight quantised values.
    "data-frame-int8": data_frame(1, 4, 1048601, (6 << 56) | 2, 512, struct.pack("<b8b", -5, 32, -32, 0, 127, -127, 1, 64, 3),
                                  checksum=True, dtype=4, length=32),
    "data-frame-checksummed": data_frame(3, 9, 1001, (2 << 56) | (1 << 32) | 5, 4096,
                                         struct.pack("<4f", 1.0, 2.0, 3.0, 4.0), checksum=True),
}

HERE.mkdir(exist_ok=True)
for name, frames in vectors.items():
    (HERE / f"{name}.hex").write_text("".join(frame.hex() + "\n" for frame in frames))
assert crc32c(b"123456789") == 0xE3069283
print(f"wrote {len(vectors)} vectors to {HERE}")
