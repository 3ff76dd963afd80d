"""The transfer floor of `make bench`: the same paged GETs a run sends, bodies read and discarded.

Usage: floor.py URL CA_FILE TOKEN_FILE PAGE_SIZE THREADS PATH... (each PATH with its query, without limit or
continue). Each list is paged as the plugin pages it (limit + continue): the next page is asked for as soon as
the continue token is read from the head of a page (the List's metadata comes before its items), on another
kept connection, while the rest of the page is read. THREADS lists go side by side, as the plugin's. No
client that reads every byte can be faster. Prints the number of requests and bytes read.
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
HEAD_BYTES = 16 << 10  # as the plugin's sources/cluster.py reads the head of a page


def main() -> int:
    url, ca, token_file, page_size, threads, *paths = sys.argv[1:]
    host, port = url.removeprefix("https://").split(":")
    ctx = ssl.create_default_context(cafile=ca)
    with open(token_file) as fh:
        token = fh.read().strip()
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "bench-floor"}
    todo: queue.SimpleQueue[str] = queue.SimpleQueue()
    for path in paths:
        todo.put(path)
    counts = [0, 0]
    lock = threading.Lock()

    idle: queue.SimpleQueue[http.client.HTTPSConnection] = queue.SimpleQueue()  # kept connections, as urllib3's pool

    def page(path: str, token_: str, ahead: list[threading.Thread]) -> None:
        """One page read whole on a kept (or new) connection; the next page started from its head."""
        try:
            conn = idle.get_nowait()
        except queue.Empty:
            conn = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=300)
        sep = "&" if "?" in path else "?"
        query = f"{sep}limit={page_size}" + (f"&continue={quote(token_)}" if token_ else "")
        conn.request("GET", path + query, headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            raise SystemExit(f"GET {path} -> {resp.status}")
        head = resp.read(HEAD_BYTES)
        found = CONTINUE.search(head, 0, 4096)
        if found and found.group(1):  # custom resources' Lists say "continue": ""
            ahead.append(threading.Thread(target=page, args=(path, found.group(1).decode(), ahead)))
            ahead[-1].start()
        size = len(head) + len(resp.read())
        idle.put(conn)
        with lock:
            counts[0] += 1
            counts[1] += size

    def work() -> None:
        while True:
            try:
                path = todo.get_nowait()
            except queue.Empty:
                return
            ahead: list[threading.Thread] = []
            page(path, "", ahead)
            done = 0
            while done < len(ahead):  # every page of the list read (each started the next from its head)
                ahead[done].join()
                done += 1

    pool = [threading.Thread(target=work) for _ in range(int(threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    print(f"{counts[0]} requests, {counts[1]} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
