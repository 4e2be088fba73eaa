# Child of quicktok.bench.ts (not named quicktok.py: that would shadow the package): times quicktok (C++ tiktoken-exact counter, `pip install quicktok-v1`) on the
# texts of a JSON file, one `count` per text, and prints {"version", "ms": [...], "counts": [...]}.
# Usage: python3 quicktok.py <encoding> <texts.json>
import json
import sys
import time

import quicktok

enc = quicktok.get_encoding(sys.argv[1])
with open(sys.argv[2], encoding="utf-8") as f:
    texts = json.load(f)


def well_formed(t):
    """Lone surrogates (JSON keeps them) become U+FFFD, as they do on the way into the native binding."""
    try:
        t.encode("utf-8")
        return t
    except UnicodeEncodeError:
        return t.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


texts = [well_formed(t) for t in texts]
enc.count("warm up the encoding")
ms, counts = [], []
for t in texts:
    t0 = time.perf_counter()
    n = enc.count(t)
    ms.append((time.perf_counter() - t0) * 1000)
    counts.append(n)
print(json.dumps({"version": quicktok.__version__, "ms": ms, "counts": counts}))
