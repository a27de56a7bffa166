#!/usr/bin/python3
# hookrecv: the webhook receiver of benchmark 8 (bench/README.md).
#
#   hookrecv.py -p PORT -R RUN -n DEVICES [-o READYFILE] [-T MAX_SECONDS]
#               [-i IDLE_MS]
#
# An HTTP/1.1 server on 127.0.0.1:PORT that answers every POST 200 and
# counts the messages of each body ({"messages":[...]}, the collections
# dialect's data messages) as dpsub counts frames: the base64 payload is
# what dpload sent, "<run> <i> <t> ...."; duplicates (i seen before), out
# of order (i lower than the last i of its device, i % DEVICES), latency
# (CLOCK_MONOTONIC now - t).  It stops at MAX_SECONDS, or once it got
# SIGUSR1 when nothing came for IDLE_MS, and prints "RESULT key=value".

import base64, getopt, json, signal, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer

opts = dict(getopt.getopt(sys.argv[1:], 'p:R:n:o:T:i:')[0])
port, run, ndev = int(opts['-p']), int(opts['-R']), int(opts['-n'])
maxs, idle = float(opts.get('-T', 60)), float(opts.get('-i', 2000)) / 1000

st = dict(received=0, unique=0, dup=0, ooo=0, foreign=0, bad=0,
          requests=0)
seen, last_i, lat = set(), {}, []
first = last = None
usr1 = False


def take(m):
    global first, last
    now = time.monotonic_ns()
    try:
        f = base64.b64decode(m['payload']).split(b' ')
        r, i, t = int(f[0]), int(f[1]), int(f[2])
    except Exception:
        st['bad'] += 1
        return
    if r != run:
        st['foreign'] += 1
        return
    st['received'] += 1
    first = first or now
    last = now
    if i in seen:
        st['dup'] += 1
        return
    seen.add(i)
    st['unique'] += 1
    d = i % ndev
    if d in last_i and i < last_i[d]:
        st['ooo'] += 1
    last_i[d] = max(i, last_i.get(d, -1))
    lat.append((now - t) // 1000)


class H(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    # an idle keep-alive connection ends, so that the loop below looks at
    # the clock and the signal again
    timeout = 1.0

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        st['requests'] += 1
        try:
            for m in json.loads(body)['messages']:
                take(m)
        except Exception:
            st['bad'] += 1
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, *a):
        pass


srv = HTTPServer(('127.0.0.1', port), H)
srv.timeout = 0.1


def on_usr1(*a):
    global usr1
    usr1 = True


signal.signal(signal.SIGUSR1, on_usr1)
if '-o' in opts:
    open(opts['-o'], 'w').close()

start = time.monotonic()
mark = start
while time.monotonic() - start < maxs:
    n = st['received']
    srv.handle_request()
    if st['received'] != n:
        mark = time.monotonic()
    elif usr1 and time.monotonic() - mark > idle:
        break
    if usr1 and mark < start:
        mark = time.monotonic()

lat.sort()


def pct(p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] if lat else ''


span = (last - first) / 1e9 if first and last and last > first else 0
for k in ('received', 'unique', 'dup', 'ooo', 'foreign', 'bad', 'requests'):
    print('RESULT %s=%d' % (k, st[k]))
print('RESULT lat_p50_us=%s' % pct(0.5))
print('RESULT lat_p99_us=%s' % pct(0.99))
print('RESULT lat_max_us=%s' % (lat[-1] if lat else ''))
print('RESULT rx_rate=%.1f' % ((st['unique'] - 1) / span if span else 0))
print('RESULT close=-1')
