"""Input-pipeline images/s against a raw read of the same TFRecord files.

    python tools/benchmarks/pipeline_throughput.py [synthetic_sun/active_region]
"""

import json
import sys

from flarekit.studies.benchmarks import pipeline_throughput

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "synthetic_sun/active_region"
    print(json.dumps(pipeline_throughput(name), indent=2))
