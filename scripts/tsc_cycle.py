"""Sign-in + sign-out cycles per second with tableauserverclient (TSC) against the fake server.

Usage: tsc_cycle.py BASE_URL CA_FILE SECONDS USERNAME PASSWORD; prints cycles per second.
Called by tableau-auth-ureq/benches/sign_in_cycle.rs; see scripts/setup-tsc.sh.
"""
import sys
import time

import tableauserverclient as TSC

base, ca_file, seconds, username, password = sys.argv[1:6]
server = TSC.Server(base, http_options={"verify": ca_file})
server.version = "3.25"  # the same URLs as the Rust clients (no version probe)
auth = TSC.TableauAuth(username, password, site_id="")
n = 0
start = time.perf_counter()
while time.perf_counter() - start < float(seconds):
    server.auth.sign_in(auth)
    server.auth.sign_out()
    n += 1
print(n / (time.perf_counter() - start))
