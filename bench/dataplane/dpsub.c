/*
 * dpsub: the one live subscriber of benchmarks 4 and 5 (bench/README.md).
 *
 *   dpsub -m ws   -a 127.0.0.1:PORT -P PATH [-H 'Header: value'] -F iot|raw
 *   dpsub -m mqtt -a 127.0.0.1:PORT -t TOPIC [-F iot]
 *         -R RUN -n DEVICES [-o READYFILE] [-T MAX_SECONDS] [-i IDLE_MS]
 *
 * ws: a minimal RFC 6455 client: the upgrade request, then it reads
 * frames (text or binary; a fragmented message is put back together),
 * answers pings with masked pongs and stops at a close frame (its code is
 * reported).  -F iot: each frame is nginx-iot JSON; the message is the
 * base64 "payload" (frames whose "type" is not "data", the keep-alives,
 * are counted apart).  -F raw: the frame is the message (nchan).
 * mqtt: MQTT 3.1.1, CONNECT, SUBSCRIBE TOPIC at QoS 0, then PUBLISH
 * packets; the payload is the message, or with -F iot nginx-iot JSON
 * as a WebSocket frame of -F iot (an MQTT output's, benchmark 8).
 *
 * A message is what dpload sends: "<run> <i> <t> ....".  Messages of
 * another run are counted as "foreign" and otherwise ignored.  For this
 * run: message i is of device i % DEVICES; latency = the time it is read
 * here (CLOCK_MONOTONIC, taken after each read()) - t; duplicates (i seen
 * before) and out-of-order messages (i lower than the last i of the same
 * device) are counted.
 *
 * When the subscription is in place it creates READYFILE.  It stops at
 * MAX_SECONDS after the start, at a close, or - once it got SIGUSR1 (the
 * sender has finished) - when nothing has come for IDLE_MS.  Then it
 * prints "RESULT key=value" lines: received, unique, dup, ooo, foreign,
 * bad, keepalives, max_index, gaps (indexes below max_index never seen),
 * lat_p50_us, lat_p90_us, lat_p99_us, lat_p999_us, lat_max_us,
 * first_s/last_s (since the first message of the run), rx_rate, close.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MODE_WS    0
#define MODE_MQTT  1

#define INBUF      (4 * 1024 * 1024)


static int          mode = MODE_WS;
static int          fmt_iot = 1;
static int          mqtt_iot;     /* -F iot given: MQTT payloads are JSON */
static char        *addr_s = "127.0.0.1:8080";
static char        *path = "/";
static char        *headers[8];
static int          nheaders;
static char        *topic = "bench";
static char        *readyfile;
static long         run = 1;
static long         ndev = 1000;
static double       max_seconds = 60;
static long         idle_ms = 1000;

static volatile sig_atomic_t  draining;

static int          fd;
static uint64_t     now;              /* of the last read() */

/* statistics */
static uint64_t     received, unique, dups, ooo, foreign, bad, keepalives;
static uint64_t     max_index;
static int          any;
static uint64_t     first_t, last_t;
static uint8_t     *seen;
static size_t       seen_bytes;
static int64_t     *last_of;          /* per device: the last index seen */
static uint32_t    *lat;              /* us */
static size_t       nlat, lat_size;
static int          close_code = -1;


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
    fprintf(stderr, "dpsub: %s: %s\n", what, strerror(errno));
    printf("RESULT error=%s\n", what);
    exit(2);
}


static void
on_usr1(int sig)
{
    (void) sig;
    draining = 1;
}


/* one message of dpload: "<run> <i> <t> ...." */
static void
message(const char *p, size_t len)
{
    char      buf[80], *e;
    long      r;
    uint64_t  i, t, d;
    size_t    n;

    n = len < sizeof(buf) - 1 ? len : sizeof(buf) - 1;
    memcpy(buf, p, n);
    buf[n] = '\0';

    r = strtol(buf, &e, 10);
    if (e == buf || *e != ' ') {
        bad++;
        return;
    }

    if (r != run) {
        foreign++;
        return;
    }

    i = strtoull(e + 1, &e, 10);
    if (*e != ' ') {
        bad++;
        return;
    }

    t = strtoull(e + 1, &e, 10);
    if (*e != ' ') {
        bad++;
        return;
    }

    received++;

    if (!any) {
        any = 1;
        first_t = now;
    }
    last_t = now;

    if (i / 8 >= seen_bytes) {
        size_t  nb = seen_bytes ? seen_bytes : 1 << 20;

        while (i / 8 >= nb) {
            nb *= 2;
        }
        seen = realloc(seen, nb);
        if (seen == NULL) {
            die("realloc");
        }
        memset(seen + seen_bytes, 0, nb - seen_bytes);
        seen_bytes = nb;
    }

    if (seen[i / 8] & (1 << (i % 8))) {
        dups++;
        return;
    }

    seen[i / 8] |= 1 << (i % 8);
    unique++;

    if (i > max_index) {
        max_index = i;
    }

    d = i % ndev;
    if (last_of[d] > (int64_t) i) {
        ooo++;
    } else {
        last_of[d] = (int64_t) i;
    }

    if (nlat == lat_size) {
        lat_size = lat_size ? lat_size * 2 : 1 << 20;
        lat = realloc(lat, lat_size * sizeof(uint32_t));
        if (lat == NULL) {
            die("realloc");
        }
    }

    lat[nlat++] = now > t ? (uint32_t) ((now - t) / 1000) : 0;
}


static const signed char  b64[256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6,
    ['G'] = 7, ['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12,
    ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18,
    ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30,
    ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36,
    ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
    ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54,
    ['2'] = 55, ['3'] = 56, ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60,
    ['8'] = 61, ['9'] = 62, ['+'] = 63, ['/'] = 64
};


/* decodes the first 80 bytes' worth of base64 (all message() needs) */
static size_t
unbase64(const char *s, size_t len, char *out, size_t out_size)
{
    size_t    i, n = 0;
    uint32_t  acc = 0;
    int       bits = 0, v;

    for (i = 0; i < len && n < out_size; i++) {
        v = b64[(unsigned char) s[i]];
        if (v == 0) {
            break;
        }
        acc = (acc << 6) | (uint32_t) (v - 1);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char) ((acc >> bits) & 0xff);
        }
    }

    return n;
}


static void
iot_frame(const char *p, size_t len)
{
    char        out[80];
    const char *v, *end;
    size_t      n;

    v = memmem(p, len, "\"payload\":\"", 11);
    if (v == NULL) {
        if (memmem(p, len, "\"keepAlive\"", 11)) {
            keepalives++;
        } else {
            bad++;
        }
        return;
    }

    v += 11;
    end = memchr(v, '"', p + len - v);
    if (end == NULL) {
        bad++;
        return;
    }

    n = unbase64(v, end - v, out, sizeof(out));
    message(out, n);
}


static void
send_all(const void *buf, size_t len)
{
    const char  *p = buf;
    ssize_t      n;
    int          fl;

    fl = fcntl(fd, F_GETFL);
    (void) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);

    while (len) {
        n = write(fd, p, len);
        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        p += n;
        len -= n;
    }

    (void) fcntl(fd, F_SETFL, fl);
}


/* a masked frame to the server (the mask is zero: allowed, and cheap) */
static void
ws_send(int opcode, const char *data, size_t len)
{
    char  f[140];

    if (len > 125) {
        len = 125;
    }

    f[0] = (char) (0x80 | opcode);
    f[1] = (char) (0x80 | len);
    memset(f + 2, 0, 4);
    memcpy(f + 6, data, len);
    send_all(f, 6 + len);
}


/* parses the frames in buf; returns the bytes used */
static size_t
ws_parse(char *buf, size_t len)
{
    static char    *msg;
    static size_t   msg_len, msg_size;
    static int      msg_op;
    unsigned char  *p;
    size_t          used = 0, hl, pl;
    int             fin, op;

    while (len - used >= 2) {
        p = (unsigned char *) buf + used;
        fin = p[0] & 0x80;
        op = p[0] & 0x0f;
        pl = p[1] & 0x7f;
        hl = 2;

        if (pl == 126) {
            if (len - used < 4) {
                break;
            }
            pl = ((size_t) p[2] << 8) | p[3];
            hl = 4;

        } else if (pl == 127) {
            if (len - used < 10) {
                break;
            }
            pl = 0;
            for (int k = 0; k < 8; k++) {
                pl = (pl << 8) | p[2 + k];
            }
            hl = 10;
        }

        if (p[1] & 0x80) {
            hl += 4;    /* a server must not mask; skip the key anyway */
        }

        if (len - used < hl + pl) {
            break;
        }

        p += hl;

        if (op == 8) {
            close_code = pl >= 2 ? (p[0] << 8) | p[1] : 1005;
            ws_send(8, (char *) p, pl >= 2 ? 2 : 0);
            used += hl + pl;
            return used;
        }

        if (op == 9) {
            ws_send(10, (char *) p, pl);

        } else if (op == 1 || op == 2 || op == 0) {
            if (op != 0) {
                msg_op = op;
                msg_len = 0;
            }

            if (fin && op != 0) {
                /* the common case: a whole message in one frame */
                if (fmt_iot) {
                    iot_frame((char *) p, pl);
                } else {
                    message((char *) p, pl);
                }

            } else {
                if (msg_len + pl > msg_size) {
                    msg_size = (msg_len + pl) * 2;
                    msg = realloc(msg, msg_size);
                    if (msg == NULL) {
                        die("realloc");
                    }
                }
                memcpy(msg + msg_len, p, pl);
                msg_len += pl;

                if (fin) {
                    if (fmt_iot) {
                        iot_frame(msg, msg_len);
                    } else {
                        message(msg, msg_len);
                    }
                    msg_len = 0;
                }
            }
            (void) msg_op;
        }

        used += hl + pl;
    }

    return used;
}


static size_t
mqtt_parse(char *buf, size_t len)
{
    unsigned char  *p;
    size_t          used = 0, rl, hl, tl;
    int             k, mul;

    while (len - used >= 2) {
        p = (unsigned char *) buf + used;
        rl = 0;
        mul = 1;
        hl = 1;

        for (k = 1; k < 5; k++) {
            if (used + k >= len) {
                return used;
            }
            rl += (size_t) (p[k] & 0x7f) * mul;
            mul *= 128;
            hl++;
            if (!(p[k] & 0x80)) {
                break;
            }
        }

        if (len - used < hl + rl) {
            break;
        }

        if ((p[0] & 0xf0) == 0x30) {
            /* PUBLISH QoS 0: topic, payload */
            tl = ((size_t) p[hl] << 8) | p[hl + 1];
            if (2 + tl <= rl && mqtt_iot) {
                /* an nginx-iot output publishes its data messages */
                iot_frame((char *) p + hl + 2 + tl, rl - 2 - tl);
            } else if (2 + tl <= rl) {
                message((char *) p + hl + 2 + tl, rl - 2 - tl);
            } else {
                bad++;
            }
        }

        used += hl + rl;
    }

    return used;
}


static int
u32cmp(const void *a, const void *b)
{
    uint32_t  x = *(const uint32_t *) a, y = *(const uint32_t *) b;

    return x < y ? -1 : x > y;
}


static uint32_t
pct(double q)
{
    size_t  k;

    if (nlat == 0) {
        return 0;
    }

    k = (size_t) (q * (nlat - 1) + 0.5);

    return lat[k];
}


static void
report(void)
{
    uint64_t  gaps = 0, i;
    double    span;

    if (any) {
        for (i = 0; i <= max_index; i++) {
            if (!(seen[i / 8] & (1 << (i % 8)))) {
                gaps++;
            }
        }
    }

    qsort(lat, nlat, sizeof(uint32_t), u32cmp);

    span = any ? (last_t - first_t) / 1e9 : 0;

    printf("RESULT received=%llu\n", (unsigned long long) received);
    printf("RESULT unique=%llu\n", (unsigned long long) unique);
    printf("RESULT dup=%llu\n", (unsigned long long) dups);
    printf("RESULT ooo=%llu\n", (unsigned long long) ooo);
    printf("RESULT foreign=%llu\n", (unsigned long long) foreign);
    printf("RESULT bad=%llu\n", (unsigned long long) bad);
    printf("RESULT keepalives=%llu\n", (unsigned long long) keepalives);
    printf("RESULT max_index=%llu\n", (unsigned long long) max_index);
    printf("RESULT gaps=%llu\n", (unsigned long long) gaps);
    printf("RESULT lat_p50_us=%u\n", pct(0.50));
    printf("RESULT lat_p90_us=%u\n", pct(0.90));
    printf("RESULT lat_p99_us=%u\n", pct(0.99));
    printf("RESULT lat_p999_us=%u\n", pct(0.999));
    printf("RESULT lat_max_us=%u\n", nlat ? lat[nlat - 1] : 0);
    printf("RESULT span_s=%.3f\n", span);
    printf("RESULT rx_rate=%.1f\n", span > 0 ? (unique - 1) / span : 0);
    printf("RESULT close=%d\n", close_code);
}


static void
handshake_ws(char *buf, size_t *len)
{
    char      req[4096], *end;
    int       n, k;
    ssize_t   r;
    uint64_t  deadline;

    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n", path, addr_s);

    for (k = 0; k < nheaders; k++) {
        n += snprintf(req + n, sizeof(req) - n, "%s\r\n", headers[k]);
    }

    n += snprintf(req + n, sizeof(req) - n, "\r\n");
    send_all(req, n);

    *len = 0;
    deadline = now_ns() + 10000000000ULL;

    for ( ;; ) {
        r = read(fd, buf + *len, INBUF - *len - 1);
        if (r <= 0) {
            if (r == -1 && errno == EINTR) {
                continue;
            }
            errno = r == 0 ? ECONNRESET : errno;
            die("handshake");
        }
        *len += r;
        buf[*len] = '\0';

        end = strstr(buf, "\r\n\r\n");
        if (end) {
            break;
        }

        if (now_ns() > deadline) {
            errno = ETIMEDOUT;
            die("handshake");
        }
    }

    if (strncmp(buf, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "dpsub: upgrade refused: %.*s\n",
                (int) strcspn(buf, "\r\n"), buf);
        printf("RESULT error=upgrade refused: %.*s\n",
               (int) strcspn(buf, "\r\n"), buf);
        exit(2);
    }

    end += 4;
    *len -= end - buf;
    memmove(buf, end, *len);
}


static void
handshake_mqtt(char *buf, size_t *len)
{
    char           id[32];
    unsigned char  pkt[512], *p;
    size_t         tl = strlen(topic), idl;
    ssize_t        r;
    int            got_connack = 0, got_suback = 0;
    size_t         used;

    snprintf(id, sizeof(id), "dpsub-%ld-%d", run, (int) getpid());
    idl = strlen(id);

    p = pkt;
    *p++ = 0x10;
    *p++ = (unsigned char) (10 + 2 + idl);
    memcpy(p, "\0\4MQTT\4\2\0\0", 10);
    p += 10;
    *p++ = 0;
    *p++ = (unsigned char) idl;
    memcpy(p, id, idl);
    p += idl;

    /* SUBSCRIBE, packet id 1, QoS 0 */
    *p++ = 0x82;
    *p++ = (unsigned char) (2 + 2 + tl + 1);
    *p++ = 0;
    *p++ = 1;
    *p++ = (unsigned char) (tl >> 8);
    *p++ = (unsigned char) (tl & 0xff);
    memcpy(p, topic, tl);
    p += tl;
    *p++ = 0;

    send_all(pkt, p - pkt);

    *len = 0;

    while (!got_suback) {
        r = read(fd, buf + *len, INBUF - *len);
        if (r <= 0) {
            if (r == -1 && errno == EINTR) {
                continue;
            }
            errno = r == 0 ? ECONNRESET : errno;
            die("mqtt handshake");
        }
        *len += r;

        used = 0;
        while (*len - used >= 2) {
            p = (unsigned char *) buf + used;
            if ((size_t) (p[1] + 2) > *len - used) {
                break;
            }
            if (p[0] == 0x20) {
                if (p[3] != 0) {
                    errno = EACCES;
                    die("CONNACK refused");
                }
                got_connack = 1;
            } else if (p[0] == 0x90) {
                got_suback = 1;
            }
            used += p[1] + 2;
            if (got_suback) {
                break;
            }
        }

        memmove(buf, buf + used, *len - used);
        *len -= used;
    }

    (void) got_connack;
}


static void
usage(void)
{
    fprintf(stderr,
        "usage: dpsub -m ws|mqtt -a HOST:PORT [-P PATH] [-H HEADER]...\n"
        "         [-F iot|raw] [-t TOPIC] [-R RUN] [-n DEVICES]\n"
        "         [-o READYFILE] [-T MAX_SECONDS] [-i IDLE_MS]\n");
    exit(1);
}


int
main(int argc, char **argv)
{
    int                 o, one = 1, sz = 16 * 1024 * 1024;
    char               *buf, *colon;
    size_t              len, used;
    ssize_t             r;
    uint64_t            start, deadline, t;
    struct pollfd       pfd;
    struct sockaddr_in  sa;
    struct sigaction    act;
    FILE               *f;

    while ((o = getopt(argc, argv, "m:a:P:H:F:t:R:n:o:T:i:")) != -1) {
        switch (o) {
        case 'm':
            if (strcmp(optarg, "ws") == 0) {
                mode = MODE_WS;
            } else if (strcmp(optarg, "mqtt") == 0) {
                mode = MODE_MQTT;
            } else {
                usage();
            }
            break;
        case 'a': addr_s = optarg; break;
        case 'P': path = optarg; break;
        case 'H':
            if (nheaders < 8) {
                headers[nheaders++] = optarg;
            }
            break;
        case 'F':
            fmt_iot = strcmp(optarg, "iot") == 0;
            mqtt_iot = fmt_iot;
            break;
        case 't': topic = optarg; break;
        case 'R': run = atol(optarg); break;
        case 'n': ndev = atol(optarg); break;
        case 'o': readyfile = optarg; break;
        case 'T': max_seconds = atof(optarg); break;
        case 'i': idle_ms = atol(optarg); break;
        default: usage();
        }
    }

    if (ndev < 1) {
        usage();
    }

    setvbuf(stdout, NULL, _IOLBF, 0);

    memset(&act, 0, sizeof(act));
    act.sa_handler = on_usr1;
    sigaction(SIGUSR1, &act, NULL);

    last_of = malloc(ndev * sizeof(int64_t));
    buf = malloc(INBUF);
    if (last_of == NULL || buf == NULL) {
        die("malloc");
    }
    for (long k = 0; k < ndev; k++) {
        last_of[k] = -1;
    }

    {
        char  a[64];

        snprintf(a, sizeof(a), "%s", addr_s);
        colon = strrchr(a, ':');
        if (colon == NULL) {
            usage();
        }
        *colon = '\0';
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_port = htons(atoi(colon + 1));
        if (inet_pton(AF_INET, a, &sa.sin_addr) != 1) {
            usage();
        }
    }

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd == -1) {
        die("socket");
    }

    /* a large receive buffer, the same for every server measured */
    (void) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == -1) {
        die("connect");
    }

    start = now_ns();
    deadline = start + (uint64_t) (max_seconds * 1e9);

    if (mode == MODE_WS) {
        handshake_ws(buf, &len);
    } else {
        handshake_mqtt(buf, &len);
    }

    (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

    if (readyfile) {
        f = fopen(readyfile, "w");
        if (f) {
            fclose(f);
        }
    }

    now = now_ns();
    used = mode == MODE_WS ? ws_parse(buf, len) : mqtt_parse(buf, len);
    memmove(buf, buf + used, len - used);
    len -= used;

    t = now;

    for ( ;; ) {
        if (close_code != -1) {
            break;
        }

        now = now_ns();

        if (now >= deadline) {
            break;
        }

        if (draining && now - t >= (uint64_t) idle_ms * 1000000ULL) {
            break;
        }

        pfd.fd = fd;
        pfd.events = POLLIN;

        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }

        r = read(fd, buf + len, INBUF - len);

        if (r == 0) {
            if (close_code == -1) {
                close_code = 1006;    /* closed without a close frame */
            }
            break;
        }

        if (r == -1) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            close_code = 1006;
            break;
        }

        now = now_ns();
        t = now;
        len += r;

        used = mode == MODE_WS ? ws_parse(buf, len) : mqtt_parse(buf, len);
        memmove(buf, buf + used, len - used);
        len -= used;
    }

    report();

    return 0;
}
