/*
 * coapload: the CoAP device load of benchmark 8 (bench/README.md).
 *
 *   coapload -a 127.0.0.1:PORT [-f DEVFILE] -n DEVICES -R RUN -d SECONDS
 *            [-s SIZE] [-w WINDOW] [-m put|post] [-P PATH] [-r RATE]
 *
 * DEVICES devices, each a UDP socket bound to its address (the first
 * column of DEVFILE, else 127.0.0.1), send confirmable requests (PUT by
 * default) with payloads in dpload's format ("<run> <i> <t> ...", message
 * i from device i % DEVICES), at most WINDOW outstanding per device, as
 * fast as the answers come (closed loop) or at RATE requests/s.  An empty
 * ACK is noted; a separate (CON) response is acknowledged; a response
 * counts when its code is 2.xx.  A request without a response after 5 s
 * counts as a timeout (not retransmitted).  Raw sockets, no libcoap: the
 * same client for every server.
 *
 * Prints "RESULT key=value": sent, ok, errors, timeouts, first_error,
 * rate (ok/s over the run), lat_p50_us, lat_p99_us, lat_max_us.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


#define MAXW      16
#define TIMEOUT   5000000000ULL     /* ns */


typedef struct {
    int        fd;
    uint16_t   mid;
    uint64_t   seq;                 /* messages sent by this device */
    int        out;                 /* outstanding */
    uint64_t   tok[MAXW];           /* 0: free */
    uint64_t   t0[MAXW];
} dev_t_;


static dev_t_    *devs;
static int        ndev = 1, window = 1, size = 64, method = 3;
static long       run = 1;
static const char *path = "bench";
static uint64_t   sent, ok, errors, timeouts, first_error = 0;
static uint64_t  *lat;
static size_t     nlat, lat_cap;


static uint64_t
now_ns(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}


static void
die(const char *what)
{
    fprintf(stderr, "coapload: %s: %s\n", what, strerror(errno));
    printf("RESULT error=%s\n", what);
    exit(2);
}


static int
send_one(dev_t_ *d, int k, uint64_t t)
{
    uint8_t   buf[4096], *p;
    uint64_t  i;
    size_t    pl;
    int       j, n;
    char      msg[2048];

    i = d->seq * (uint64_t) ndev + (uint64_t) (d - devs);
    d->seq++;

    p = buf;
    *p++ = 0x48;                                /* v1, CON, token 8 */
    *p++ = (uint8_t) method;                    /* 0.02 POST, 0.03 PUT */
    d->mid++;
    *p++ = (uint8_t) (d->mid >> 8);
    *p++ = (uint8_t) d->mid;

    for (j = 0; j < 8; j++) {
        *p++ = (uint8_t) ((i + 1) >> (56 - 8 * j));
    }

    pl = strlen(path);                          /* one Uri-Path (11) */
    if (pl < 13) {
        *p++ = (uint8_t) (0xb0 | pl);
    } else {
        *p++ = 0xbd;
        *p++ = (uint8_t) (pl - 13);
    }
    memcpy(p, path, pl);
    p += pl;

    n = snprintf(msg, sizeof(msg), "%ld %llu %llu ", run,
                 (unsigned long long) i, (unsigned long long) t);
    if (n < size) {
        memset(msg + n, '.', size - n);
        n = size;
    }

    *p++ = 0xff;
    memcpy(p, msg, n);
    p += n;

    if (send(d->fd, buf, p - buf, 0) < 0) {
        return -1;
    }

    d->tok[k] = i + 1;
    d->t0[k] = t;
    d->out++;
    sent++;

    return 0;
}


static void
done(dev_t_ *d, uint64_t token, int code, uint64_t t)
{
    int  k;

    for (k = 0; k < window; k++) {
        if (d->tok[k] == token && token) {
            break;
        }
    }

    if (k == window) {
        return;                                 /* late or unknown */
    }

    if ((code >> 5) == 2) {
        ok++;

        if (nlat == lat_cap) {
            lat_cap = lat_cap ? lat_cap * 2 : 1 << 20;
            lat = realloc(lat, lat_cap * sizeof(uint64_t));
            if (lat == NULL) {
                die("realloc");
            }
        }

        lat[nlat++] = t - d->t0[k];

    } else {
        errors++;
        if (!first_error) {
            first_error = (uint64_t) code;
        }
    }

    d->tok[k] = 0;
    d->out--;
}


static int
cmp(const void *a, const void *b)
{
    uint64_t  x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}


int
main(int argc, char **argv)
{
    struct epoll_event   ev, evs[256];
    struct sockaddr_in   srv, me;
    const char          *addr = "127.0.0.1:5683", *file = NULL;
    char                 line[256], host[64], *colon;
    double               secs = 5, rate = 0, elapsed;
    uint64_t             t, start, end, next, token, due, last_sweep = 0;
    uint8_t              buf[4096], ack[4];
    FILE                *fp;
    int                  c, i, k, n, ep, tkl, code, type, j;
    dev_t_              *d;

    while ((c = getopt(argc, argv, "a:f:n:R:d:s:w:m:P:r:")) != -1) {
        switch (c) {
        case 'a': addr = optarg; break;
        case 'f': file = optarg; break;
        case 'n': ndev = atoi(optarg); break;
        case 'R': run = atol(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'w': window = atoi(optarg); break;
        case 'm': method = strcmp(optarg, "post") == 0 ? 2 : 3; break;
        case 'P': path = optarg; break;
        case 'r': rate = atof(optarg); break;
        default: return 2;
        }
    }

    if (ndev < 1 || window < 1 || window > MAXW || size > 2000) {
        return 2;
    }

    snprintf(host, sizeof(host), "%s", addr);
    colon = strrchr(host, ':');
    if (colon == NULL) {
        return 2;
    }
    *colon = '\0';
    memset(&srv, 0, sizeof(srv));
    srv.sin_family = AF_INET;
    srv.sin_port = htons((uint16_t) atoi(colon + 1));
    inet_pton(AF_INET, host, &srv.sin_addr);

    devs = calloc(ndev, sizeof(dev_t_));
    ep = epoll_create1(0);
    fp = file ? fopen(file, "r") : NULL;

    for (i = 0; i < ndev; i++) {
        d = &devs[i];
        memset(&me, 0, sizeof(me));
        me.sin_family = AF_INET;
        inet_pton(AF_INET, "127.0.0.1", &me.sin_addr);

        if (fp && fgets(line, sizeof(line), fp)) {
            line[strcspn(line, " \t\n")] = '\0';
            inet_pton(AF_INET, line, &me.sin_addr);
        }

        d->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (d->fd < 0 || bind(d->fd, (struct sockaddr *) &me, sizeof(me)) < 0
            || connect(d->fd, (struct sockaddr *) &srv, sizeof(srv)) < 0)
        {
            die("device socket");
        }

        d->mid = (uint16_t) (rand() & 0xffff);
        ev.events = EPOLLIN;
        ev.data.u32 = (uint32_t) i;
        epoll_ctl(ep, EPOLL_CTL_ADD, d->fd, &ev);
    }

    start = now_ns();
    end = start + (uint64_t) (secs * 1e9);
    next = start;
    due = 0;

    for ( ;; ) {
        t = now_ns();

        if (t < end) {
            /* the requests due now: closed loop, or paced */
            if (rate > 0) {
                due = (uint64_t) ((double) (t - start) / 1e9 * rate) + 1;
            }

            for (i = 0; i < ndev; i++) {
                d = &devs[(next + i) % ndev];

                while (d->out < window && (rate <= 0 || sent < due)) {
                    for (k = 0; k < window && d->tok[k]; k++) { }
                    if (send_one(d, k, t) != 0) {
                        break;
                    }
                }

                if (rate > 0 && sent >= due) {
                    next = (next + i + 1) % ndev;
                    break;
                }
            }

        } else {
            for (i = 0, n = 0; i < ndev; i++) {
                n += devs[i].out;
            }

            if (n == 0 || t > end + TIMEOUT) {
                break;
            }
        }

        n = epoll_wait(ep, evs, 256, 1);

        for (j = 0; j < n; j++) {
            d = &devs[evs[j].data.u32];

            for ( ;; ) {
                ssize_t  r = recv(d->fd, buf, sizeof(buf), 0);

                if (r < 4) {
                    break;
                }

                type = (buf[0] >> 4) & 3;
                tkl = buf[0] & 15;
                code = buf[1];
                t = now_ns();

                if (type == 0) {
                    /* a separate response: acknowledge it */
                    ack[0] = 0x60;
                    ack[1] = 0;
                    ack[2] = buf[2];
                    ack[3] = buf[3];
                    (void) send(d->fd, ack, 4, 0);
                }

                if (type == 3) {
                    errors++;
                    continue;
                }

                if (code == 0 || tkl != 8 || r < 12) {
                    continue;               /* an empty ACK */
                }

                token = 0;
                for (k = 0; k < 8; k++) {
                    token = (token << 8) | buf[4 + k];
                }

                done(d, token, code, t);
            }
        }

        /* what has waited too long is a timeout */
        t = now_ns();
        if (t - last_sweep > 100000000ULL) {
            last_sweep = t;
            for (i = 0; i < ndev; i++) {
                d = &devs[i];
                for (k = 0; k < window; k++) {
                    if (d->tok[k] && t - d->t0[k] > TIMEOUT) {
                        d->tok[k] = 0;
                        d->out--;
                        timeouts++;
                    }
                }
            }
        }
    }

    elapsed = (double) (now_ns() - start) / 1e9;
    if (elapsed > secs) {
        elapsed = secs;
    }

    qsort(lat, nlat, sizeof(uint64_t), cmp);

    printf("RESULT sent=%llu\n", (unsigned long long) sent);
    printf("RESULT ok=%llu\n", (unsigned long long) ok);
    printf("RESULT errors=%llu\n", (unsigned long long) errors);
    printf("RESULT timeouts=%llu\n", (unsigned long long) timeouts);
    printf("RESULT first_error=%d.%02d\n", (int) (first_error >> 5),
           (int) (first_error & 31));
    printf("RESULT rate=%.1f\n", (double) ok / elapsed);
    printf("RESULT lat_p50_us=%llu\n",
           nlat ? (unsigned long long) lat[nlat / 2] / 1000 : 0ULL);
    printf("RESULT lat_p99_us=%llu\n",
           nlat ? (unsigned long long) lat[nlat * 99 / 100] / 1000 : 0ULL);
    printf("RESULT lat_max_us=%llu\n",
           nlat ? (unsigned long long) lat[nlat - 1] / 1000 : 0ULL);

    return 0;
}
