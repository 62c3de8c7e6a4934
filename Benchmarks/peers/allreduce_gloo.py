"""torch.distributed all_reduce over gloo, measured the way straits bench allreduce measures:
warm-up, then iterations each after dist.barrier(); an iteration's time is the slowest rank's;
the figure is the median. Same integer pattern and exactness check.

    python3 allreduce_gloo.py P MINBYTES MAXBYTES FACTOR ITERS WARMUP PORT
Prints: size_bytes time_us busbw_gbps wrong
"""
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def worker(rank, ranks, min_bytes, max_bytes, factor, iters, warmup, port):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    wrap = max(1, (1 << 24) // (ranks * ranks))
    size = min_bytes
    while size <= max_bytes:
        count = size // 4
        index = torch.arange(count, dtype=torch.int64)
        pattern = ((index % wrap) * ranks + rank).to(torch.float32)
        expected = ((index % wrap) * ranks * ranks + ranks * (ranks - 1) // 2).to(torch.float32)
        tensor = pattern.clone()
        times = []
        for it in range(warmup + iters):
            tensor.copy_(pattern)
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
            elapsed = time.perf_counter() - start
            if it >= warmup:
                times.append(elapsed)
        slowest = torch.tensor(times, dtype=torch.float64)
        dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
        wrong = torch.tensor([int((tensor != expected).sum())], dtype=torch.int64)
        dist.all_reduce(wrong, op=dist.ReduceOp.SUM)
        if rank == 0:
            median = float(slowest.sort().values[iters // 2])
            busbw = size / median / 1e9 * 2 * (ranks - 1) / ranks
            print(f"{size} {median * 1e6:.1f} {busbw:.3f} {int(wrong)}", flush=True)
        if size > max_bytes // factor:
            break
        size *= factor
    dist.destroy_process_group()


if __name__ == "__main__":
    ranks, min_bytes, max_bytes, factor, iters, warmup, port = map(int, sys.argv[1:8])
    mp.spawn(worker, args=(ranks, min_bytes, max_bytes, factor, iters, warmup, port), nprocs=ranks, join=True)
