"""The transfer floor of `make bench`: the same paged GETs a run sends, bodies read and discarded.

Usage: floor.py URL CA_FILE TOKEN_FILE PAGE_SIZE THREADS PATH... (each PATH with its query, without limit or
continue). Each list is paged as the plugin pages it (limit + continue, the next page asked for once the token
is known); THREADS lists go side by side, as the plugin's. No client that reads every byte can be faster.
Prints the number of requests and bytes read.
"""

from __future__ import annotations

import http.client
import queue
import re
import ssl
import sys
import threading
from urllib.parse import quote

CONTINUE = re.compile(rb'"continue":"([^"]*)"')


def main() -> int:
    url, ca, token_file, page_size, threads, *paths = sys.argv[1:]
    host, port = url.removeprefix("https://").split(":")
    ctx = ssl.create_default_context(cafile=ca)
    with open(token_file) as fh:
        token = fh.read().strip()
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for path in paths:
        todo.put(path)
    counts = [0, 0]
    lock = threading.Lock()

    def work() -> None:
        conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=300)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "bench-floor"}
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                return
            token_ = ""
            while True:
                sep = "&" if "?" in path else "?"
                query = f"{sep}limit={page_size}" + (f"&continue={quote(token_)}" if token_ else "")
                conn.request("GET", path + query, headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise SystemExit(f"GET {path} -> {resp.status}")
                found = CONTINUE.search(body, 0, 4096)  # the List's metadata comes before its items
                with lock:
                    counts[0] += 1
                    counts[1] += len(body)
                if not found or not found.group(1):  # custom resources' Lists say "continue": ""
                    break
                token_ = found.group(1).decode()

    pool = [threading.Thread(target=work) for _ in range(int(threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(f"{counts[0]} requests, {counts[1]} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
