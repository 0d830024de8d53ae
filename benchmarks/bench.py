"""`make bench`: every benchmark, each printing its figures side by side and its thread count.

Run it with nothing else busy on the machine: on 2 cores a second process can slow torch's
OpenMP threads many times over.
"""

import bench_diagnosis
import bench_distributed
import bench_engine
import bench_grade
import bench_loop
import bench_startup

if __name__ == "__main__":
    bench_loop.main()
    print()
    bench_distributed.main()
    print()
    bench_engine.main()
    print()
    bench_startup.main()
    print()
    bench_diagnosis.main()
    print()
    bench_grade.main()
