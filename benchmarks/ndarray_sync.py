"""Does creating an NDArray from NumPy wait for MXNet's engine? (It does, on CPU.)

``mx.nd.array(numpy_array)`` copies with ``SyncCopyFromCPU``, which first waits until the new
array may be written; on CPU that wait sits behind everything already queued on the engine. A
``DataLoader`` with ``num_workers=0`` builds every batch this way, so a CPU training loop fed by
it waits for the engine once per iteration whether or not it reads the loss. This prints how
long one small ``mx.nd.array`` call takes with 0, 1 and 4 large matrix products queued.

    OMP_NUM_THREADS=1 python benchmarks/ndarray_sync.py
"""
import time

import mxnet as mx
import numpy as np


def main() -> None:
    a = mx.nd.random.uniform(shape=(1500, 1500))
    small = np.ones((32, 64), dtype="float32")
    mx.nd.waitall()
    for queued in (0, 1, 4):
        t = time.perf_counter()
        for _ in range(queued):
            mx.nd.dot(a, a)
        push = time.perf_counter() - t
        t = time.perf_counter()
        mx.nd.array(small)
        create = time.perf_counter() - t
        t = time.perf_counter()
        mx.nd.waitall()
        rest = time.perf_counter() - t
        print(f"{queued} products queued (pushing took {push * 1e3:.1f} ms): mx.nd.array took "
              f"{create * 1e3:.1f} ms, waitall afterwards {rest * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
